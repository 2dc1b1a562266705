// The sliding lesson (/learn/slide): a photo (uploaded, or a street drawn by scene.js) goes to
// POST /api/slide, which slides the live network over it (its fc layers recast as convolutions);
// the page draws the chosen class's probability map and the boxes over the photo, lists what each
// layer became, and compares the MACs: every window separately, the exact slide, one pass.

import { request } from "../api.js";
import { h } from "../dom.js";
import { drawStreet } from "./scene.js";
import { exact, readable } from "./table.js";

/** @typedef {{class: string, p: number, x: number, y: number, width: number, height: number}} SlideBox */

export const BOX_COLOUR = [250, 204, 21]; // #facc15: the boxes' inner 2 pixels, exactly this colour
const BOX = `rgb(${BOX_COLOUR.join(",")})`;
const SIDE = 640; // the canvas is drawn at a whole multiple of the photo's size, up to about this

const $ = (id) => /** @type {any} */ (document.getElementById(id));
const state = { file: /** @type {Blob|null} */ (null), seed: 1, result: /** @type {any} */ (null),
  cls: /** @type {string|null} */ (null), image: /** @type {HTMLImageElement|null} */ (null), seq: 0 };

function say(kind, text) {
  const msg = $("slide-msg");
  msg.dataset.state = kind;
  msg.textContent = text;
}

/** A street drawn in the page, as a PNG file. */
async function exampleFile(seed) {
  const canvas = document.createElement("canvas");
  canvas.width = 512;
  canvas.height = 384;
  drawStreet(canvas, seed);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  return new File([blob], `street-${seed}.png`, { type: "image/png" });
}

let timer = null;
function later() {
  clearTimeout(timer);
  timer = setTimeout(run, 250);
}

async function run() {
  if (!state.file) return;
  const mine = ++state.seq;
  say("busy", "sliding the live network over the photo…");
  const form = new FormData();
  form.append("file", state.file, /** @type {any} */ (state.file).name || "photo.png");
  const query = new URLSearchParams({ side: $("slide-side").value, exact: String($("slide-exact").checked),
    threshold: $("slide-threshold").value });
  const reply = await request("POST", `/api/slide?${query}`, form);
  if (mine !== state.seq) return; // a newer question is on its way
  if (!reply.ok) {
    say("error", reply.message || "the photo could not be slid over");
    $("slide-stage").dataset.stale = "true";
    return;
  }
  const r = reply.body;
  state.result = r;
  if (!state.cls || !r.classes.includes(state.cls)) {
    const best = r.maps.reduce((a, b) => (b.peak > a.peak ? b : a));
    state.cls = r.boxes.length ? r.boxes[0].class : best.class;
  }
  state.image = await loaded(r.photo.data);
  if (mine !== state.seq) return;
  render();
}

function loaded(src) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = reject;
    img.src = src;
  });
}

function render() {
  const r = state.result;
  const [rows, cols] = r.grid;
  const kind = r.exact ? "exactly as it sees each crop" : "in one pass over the photo";
  say("ok", `${r.model} (step ${r.step}), ${kind}: ${rows}×${cols} = ${exact(rows * cols)} windows of ` +
    `${r.window.join("×")} pixels, ${r.stride[0]} apart, over the ${r.photo.width}×${r.photo.height} photo; ` +
    `${r.boxes.length} box${r.boxes.length === 1 ? "" : "es"} (${r.seconds.toFixed(2)} s).`);
  $("slide-window-size").textContent = r.window.join("×");
  $("slide-stage").hidden = false;
  delete $("slide-stage").dataset.stale;
  classButtons(r);
  paint();
  boxList(r);
  layers(r);
  costs(r);
}

function classButtons(r) {
  const buttons = r.maps.map((map) => {
    const button = h("button", { class: "slide-class", text: `${map.class} ${map.peak.toFixed(2)}`,
      title: `the map of ${map.class}; its highest probability over the photo is ${map.peak.toFixed(3)}`,
      dataset: { cls: map.class }, attrs: { type: "button", "aria-pressed": String(map.class === state.cls) } });
    button.addEventListener("click", () => {
      state.cls = map.class;
      for (const b of $("slide-classes").children) b.setAttribute("aria-pressed", String(b.dataset.cls === state.cls));
      paint();
    });
    return button;
  });
  $("slide-classes").replaceChildren(...buttons);
}

/** p in [0, 1] -> [r, g, b, alpha]: clear at 0, yellow, then red at 1. */
function heat(p) {
  return [255, Math.round(220 * (1 - p)), 0, Math.round(230 * Math.pow(p, 0.7))];
}

/** The photo, the chosen class's map over the window centres, and the boxes. */
function paint() {
  const r = state.result;
  const canvas = $("slide-canvas");
  const k = Math.max(1, Math.floor(SIDE / Math.max(r.photo.width, r.photo.height)));
  canvas.width = r.photo.width * k;
  canvas.height = r.photo.height * k;
  canvas.dataset.scale = String(k);
  canvas.dataset.cls = state.cls;
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(state.image, 0, 0, canvas.width, canvas.height);

  const [rows, cols] = r.grid;
  const map = r.maps.find((m) => m.class === state.cls);
  const bytes = atob(map.data);
  const cells = document.createElement("canvas");
  cells.width = cols;
  cells.height = rows;
  const image = cells.getContext("2d").createImageData(cols, rows);
  for (let i = 0; i < rows * cols; i++) image.data.set(heat(bytes.charCodeAt(i) / 255), 4 * i);
  cells.getContext("2d").putImageData(image, 0, 0);
  // cell (i, j) is the window at (i, j) * stride: drawn as a stride-sized square around its centre
  const [sh, sw] = r.stride, [wh, ww] = r.window;
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(cells, (ww / 2 - sw / 2) * k, (wh / 2 - sh / 2) * k, cols * sw * k, rows * sh * k);

  ctx.font = "12px system-ui, sans-serif";
  ctx.textBaseline = "bottom";
  for (const box of r.boxes) {
    const x = box.x * k, y = box.y * k, w = box.width * k, bh = box.height * k;
    ctx.lineWidth = 1;
    ctx.strokeStyle = "#111827"; // a dark line outside, for contrast on light photos
    ctx.strokeRect(x - 0.5, y - 0.5, w + 1, bh + 1);
    ctx.lineWidth = 2;
    ctx.strokeStyle = BOX;
    ctx.strokeRect(x + 1, y + 1, w - 2, bh - 2);
    const label = `${box.class} ${box.p.toFixed(2)}`;
    const tw = ctx.measureText(label).width + 6;
    const top = y >= 15 ? y - 15 : y + 2;
    ctx.fillStyle = BOX;
    ctx.fillRect(x, top, tw, 15);
    ctx.fillStyle = "#111827";
    ctx.fillText(label, x + 3, top + 14);
  }
  const peak = map.peak.toFixed(2);
  $("slide-legend").textContent = `The map of “${state.cls}”: at every window's centre, the probability the network ` +
    `gives that class there (clear: 0, yellow, then red: 1; the highest is ${peak}). Boxes: every class.`;
}

function boxList(r) {
  const items = r.boxes.map((b) => h("li", { text: `${b.class} ${b.p.toFixed(2)} at (${b.x}, ${b.y})` }));
  $("slide-boxes").replaceChildren(...(items.length ? items
    : [h("li", { class: "empty", text: `no window reaches p = ${r.threshold} for any class` })]));
}

function layers(r) {
  const [rows, cols] = r.grid;
  $("slide-geometry").textContent = `Here: windows of ${r.window.join("×")} pixels, ${r.stride[0]} apart (the ` +
    `product of the layers' strides), so a ${r.photo.width}×${r.photo.height} photo holds ${rows}×${cols} of them.`;
  const cell = (text, cls = "") => h("td", { class: cls, text });
  const frame = (row) => (row.whole ? "all of it: window by window"
    : row.frame ? `${Math.max(...row.frame)} row${Math.max(...row.frame) > 1 ? "s" : ""} at its edges` : "");
  const body = r.layers.map((row) => h("tr", { dataset: { path: row.path.join("."), recast: String(row.recast.startsWith("conv")) } },
    cell(row.path.join(".")), cell(row.layer), cell(row.recast), cell(exact(row.window), "num"),
    cell(exact(row.window * rows * cols), "num"), cell(exact(row.one_pass), "num"), cell(exact(row.shared), "num"),
    cell(exact(row.frames), "num"), cell(frame(row))));
  const m = r.macs;
  const heads = ["#", "layer", "in the recast network", "MACs: one window", `every window (×${exact(m.windows)})`,
    "one pass", "exact: once over the photo", "exact: the windows' frames", "each window recomputes"];
  const table = h("table", { class: "layer-table slide-table", attrs: { id: "slide-layer-table" } },
    h("thead", {}, h("tr", {}, ...heads.map((t, i) => h("th", { class: i >= 3 && i <= 7 ? "num" : "", text: t })))),
    h("tbody", {}, ...body),
    h("tfoot", {}, h("tr", {}, cell(""), cell("total"), cell(""), cell(exact(m.per_window / m.windows), "num"),
      cell(exact(m.per_window), "num"), cell(exact(m.one_pass), "num"), cell(exact(m.shared), "num"),
      cell(exact(m.frames), "num"), cell(""))));
  $("slide-layers").replaceChildren(h("div", { class: "slide-scroll", attrs: { tabindex: "0", role: "region",
    "aria-label": "the layers and what they became" } }, table));
}

function costs(r) {
  const m = r.macs;
  const times = (a, b) => (b ? `${Number((a / b).toPrecision(3))}×` : "∞×");
  const ways = [
    ["per-window", `the ${r.window.join("×")} network on each of the ${exact(m.windows)} windows separately`, m.per_window],
    ["exact", "the recast network, exact: once over the photo, plus each window's frame", m.exact],
    ["one-pass", "the recast network in one pass over the photo", m.one_pass],
  ];
  const top = Math.max(...ways.map((w) => w[2]));
  const rows = ways.map(([key, label, macs]) => {
    const fill = h("span", { class: "slide-bar-fill" });
    fill.style.width = `${((100 * macs) / top).toFixed(1)}%`;
    return h("li", { class: "slide-cost", dataset: { way: key, macs: String(macs), run: String(macs === m.run) } },
      h("span", { class: "slide-cost-label", text: label }), h("span", { class: "slide-bar" }, fill),
      h("span", { class: "slide-cost-value", text: `${exact(macs)} (${readable(macs)})` }));
  });
  let verdict = `The exact slide costs ${times(m.per_window, m.exact)} fewer MACs than running the network on ` +
    `every window separately; one pass ${times(m.per_window, m.one_pass)} fewer.`;
  verdict += m.frames === 0 ? " This network does not pad, so one pass is exact: nothing is recomputed."
    : ` The windows' frames are ${Math.round((100 * m.frames) / m.exact)}% of the exact slide: padding is what ` +
      "windows do not share.";
  $("slide-costs").replaceChildren(h("ol", { class: "slide-cost-list" }, ...rows),
    h("p", { class: "cost-verdict", attrs: { id: "slide-verdict" }, text: verdict }));
}

$("slide-file").addEventListener("change", () => {
  const file = $("slide-file").files[0];
  if (!file) return;
  state.file = file;
  run();
});
$("slide-example").addEventListener("click", async () => {
  state.seed += 1;
  state.file = await exampleFile(state.seed);
  run();
});
for (const id of ["slide-side", "slide-exact"]) $(id).addEventListener("change", run);
$("slide-threshold").addEventListener("input", () => {
  $("slide-threshold-value").textContent = $("slide-threshold").value;
  later();
});
$("slide-controls").addEventListener("submit", (event) => event.preventDefault());

window.slideLesson = { state, run };
exampleFile(state.seed).then((file) => {
  if (!state.file) {
    state.file = file;
    run();
  }
});
