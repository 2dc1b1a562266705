// The cost lab (/learn/cost): three comparisons from the course, each costed by the server
// (POST /api/cost, the layer table's code) as soon as a setting changes.

import { request } from "../api.js";
import { h } from "../dom.js";
import { exact, layerTable, readable, scrollBox } from "./table.js";

const LABS = [
  {
    lab: "fc-vs-conv",
    title: "Why convolution: a fully connected layer vs a conv layer",
    caption: "Both layers read the same image and give the same number of outputs. The fc layer connects every " +
      "output to every input value, so it has a weight for each pair and forgets where pixels were. The conv layer " +
      "looks only at a small window and reuses the same few filters at every position: the spatial structure is " +
      "kept and the weights shrink by orders of magnitude.",
    fields: { channels: 3, height: 32, width: 32, filters: 16, size: 5 },
  },
  {
    lab: "bottleneck",
    title: "1x1 convolutions: reduce the channels first (GoogLeNet)",
    caption: "A 1x1 conv mixes the channels at each pixel without looking at neighbours: a cheap way to go from many " +
      "channels to few. Put before an expensive 5x5 layer, it cuts the work several times over. The default is " +
      "GoogLeNet's example: 64 filters of 5x5 on a 128x28x28 input, with and without a 1x1 layer down to 32 channels.",
    fields: { channels: 128, height: 28, width: 28, filters: 64, size: 5, reduce: 32 },
  },
  {
    lab: "small-filters",
    title: "The power of small filters: one big conv vs stacked 3x3 convs",
    caption: "Two stacked 3x3 convs see a 5x5 window of the input, three see 7x7, the same as one big filter. The stack " +
      "has fewer weights (3×9 = 27 per channel pair instead of 49), does less work, and puts a nonlinearity after " +
      "each layer, so it can express more (VGG).",
    fields: { channels: 64, height: 32, width: 32, filters: 64, size: 7 },
  },
];
const LABELS = { channels: "input channels", height: "height", width: "width", filters: "filters", size: "filter size",
  reduce: "1x1 channels" };

/** 43352064 -> "43,352,064 (43.35M)"; 1216 -> "1,216". */
function both(n) {
  return n >= 1e6 ? `${exact(n)} (${readable(n)})` : exact(n);
}

function sumLine(side) {
  const costly = side.layers.filter((row) => row.depth === 0 && row.macs > 0);
  const terms = costly.map((row) => exact(row.macs));
  return `MACs: ${terms.length > 1 ? `${terms.join(" + ")} = ` : ""}${both(side.macs)}`;
}

function verdict(lab, [a, b]) {
  const [cheap, dear] = a.macs <= b.macs ? [a, b] : [b, a];
  const times = (x, y) => (y ? `${Number((x / y).toPrecision(3))}×` : "∞×");
  let text = `“${cheap.name}” needs ${times(dear.macs, cheap.macs)} fewer MACs and ` +
    `${times(dear.params, cheap.params)} fewer parameters than “${dear.name}”.`;
  if (lab === "small-filters") {
    text += ` Both see a ${b.receptive_field}×${b.receptive_field} window of the input; the stack has ` +
      `${b.activations} nonlinearities instead of ${a.activations}.`;
  } else if (lab === "fc-vs-conv") {
    text += ` Each conv output sees a ${b.receptive_field}×${b.receptive_field} window; each fc output sees the whole image.`;
  }
  return text;
}

function side(s, cheaper) {
  return h("div", { class: "cost-side", dataset: { cheaper: String(cheaper) } },
    h("h3", { text: s.name }),
    scrollBox(layerTable(s.layers, s), `${s.name}: layer table`),
    h("p", { class: "cost-sum", text: `Parameters: ${both(s.params)}` }),
    h("p", { class: "cost-sum", text: sumLine(s) }));
}

function card(spec) {
  const form = h("form", { class: "lesson-controls", attrs: { novalidate: "" } });
  const fieldset = h("fieldset", {}, h("legend", { text: "setup" }));
  for (const [name, value] of Object.entries(spec.fields)) {
    const id = `${spec.lab}-${name}`;
    fieldset.append(h("label", { text: LABELS[name], attrs: { for: id } }),
      h("input", { attrs: { id, name, type: "number", min: "1", step: name === "size" && spec.lab === "small-filters" ? "2" : "1",
        value: String(value) } }));
  }
  form.append(fieldset);
  const msg = h("p", { class: "form-msg", attrs: { role: "status" } });
  const sides = h("div", { class: "cost-sides" });
  const result = h("p", { class: "cost-verdict" });
  const section = h("section", { class: "panel cost-lab", dataset: { lab: spec.lab } },
    h("h2", { text: spec.title }), h("p", { class: "caption", text: spec.caption }), form, msg, sides, result);

  let seq = 0;
  let timer = null;
  async function ask() {
    const body = { lab: spec.lab };
    for (const name of Object.keys(spec.fields)) {
      const raw = form.elements[name].value.trim();
      body[name] = /^\d+$/.test(raw) ? Number(raw) : raw;
    }
    const mine = ++seq;
    const reply = await request("POST", "/api/cost", body);
    if (mine !== seq) return; // a newer question is on its way
    section.dataset.state = reply.ok ? "ok" : "error";
    if (!reply.ok) {
      msg.dataset.state = "error";
      msg.textContent = reply.message || "could not cost this setup";
      sides.classList.add("stale");
      return;
    }
    msg.dataset.state = "";
    msg.textContent = "";
    const [a, b] = reply.body.sides;
    sides.replaceChildren(side(a, a.macs < b.macs), side(b, b.macs < a.macs));
    result.textContent = verdict(spec.lab, reply.body.sides);
  }
  form.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(ask, 200);
  });
  form.addEventListener("submit", (event) => event.preventDefault());
  ask();
  return section;
}

document.getElementById("cost-labs").replaceChildren(...LABS.map(card));
