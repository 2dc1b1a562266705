// The convolution explorer (/learn/conv): an input volume, filters with biases, and the output
// volume; one output cell is highlighted with its receptive field, and every product behind it is
// listed. The arithmetic is conv.js's (tested against torch); this module only draws and listens.

import { h } from "../dom.js";
import { convCell, outputSize, randomVolume, seededRandom } from "./conv.js";
import { formatNumber, Stepper } from "./explore.js";

const LIMITS = { size: [1, 9], channels: [1, 4], pad: [0, 3], filters: [1, 4], kernel: [1, 5], stride: [1, 4] };
// The course's demo: a 5x5x3 input padded by 1 (so 7x7x3), two 3x3x3 filters, stride 2 -> 3x3x2.
const CLASSIC = { size: 5, channels: 3, pad: 1, filters: 2, kernel: 3, stride: 2, bias: true };
const CLASSIC_SEED = 7;

/**
 * @typedef {object} ConvState
 * @property {number} size      input height and width
 * @property {number} channels  input channels
 * @property {number} pad @property {number} filters @property {number} kernel @property {number} stride
 * @property {boolean} bias
 * @property {number[][][]} input     channels x size x size
 * @property {number[][][][]} weights filters x channels x kernel x kernel
 * @property {number[]} biases
 */

/** @type {ConvState} */
const state = { ...CLASSIC, input: [], weights: [], biases: [] };
const $ = (id) => /** @type {any} */ (document.getElementById(id));
const els = {
  form: $("conv-controls"), formula: $("conv-formula"), input: $("conv-input"), weights: $("conv-weights"),
  output: $("conv-output"), calc: $("conv-calc"), inputDims: $("conv-input-dims"), outputDims: $("conv-output-dims"),
  play: $("conv-play"),
};
const stepper = new Stepper(() => outputCount(), () => highlight(), els.play);

/** New random integers like the course demo's: inputs 0..2, weights -1..1, biases 0..1. */
function randomise(random = Math.random) {
  state.input = randomVolume([state.channels, state.size, state.size], 0, 2, random);
  state.weights = randomVolume([state.filters, state.channels, state.kernel, state.kernel], -1, 1, random);
  state.biases = randomVolume([state.filters], 0, 1, random);
}

/** Keep the values that still fit after a size change; new places get random integers. */
function resize() {
  const old = { input: state.input, weights: state.weights, biases: state.biases };
  randomise();
  const keep = (fresh, prior) => (Array.isArray(fresh)
    ? fresh.map((v, i) => (prior && i < prior.length ? keep(v, prior[i]) : v))
    : (prior === undefined ? fresh : prior));
  state.input = keep(state.input, old.input);
  state.weights = keep(state.weights, old.weights);
  state.biases = keep(state.biases, old.biases);
}

function outputSide() {
  return outputSize(state.size, state.kernel, state.stride, state.pad);
}

function fits() {
  return state.kernel <= state.size + 2 * state.pad;
}

function outputCount() {
  return fits() ? state.filters * outputSide() ** 2 : 0;
}

/** Output cell number n (filter-major, then row, then column) as [f, y, x]. */
function cellOf(n) {
  const side = outputSide();
  return [Math.floor(n / (side * side)), Math.floor(n / side) % side, n % side];
}

const options = () => ({ stride: state.stride, pad: state.pad });
const biases = () => (state.bias ? state.biases : null);

function syncForm() {
  for (const name of Object.keys(LIMITS)) els.form.elements[name].value = String(state[name]);
  els.form.elements.bias.checked = state.bias;
}

function readForm() {
  for (const [name, [lo, hi]] of Object.entries(LIMITS)) {
    const value = Number(els.form.elements[name].value);
    if (Number.isInteger(value)) state[name] = Math.min(hi, Math.max(lo, value));
  }
  state.bias = els.form.elements.bias.checked;
}

function formula() {
  const { size, kernel, stride, pad } = state;
  if (!fits()) {
    return `A ${kernel}×${kernel} filter does not fit in a ${size}×${size} input with padding ${pad}: ` +
      `make the filter smaller or the padding larger.`;
  }
  const side = outputSide();
  const exact = (size + 2 * pad - kernel) % stride === 0;
  return `Output side = (input + 2×padding − filter) / stride + 1 = (${size} + 2×${pad} − ${kernel}) / ${stride} + 1 = ` +
    `${side}${exact ? "" : " (rounded down: the filter cannot reach the last rows and columns)"}. ` +
    `Output volume: ${side}×${side}×${state.filters}, one channel per filter. ` +
    `Weights: ${state.filters} filters × ${kernel}×${kernel}×${state.channels} = ` +
    `${state.filters * kernel * kernel * state.channels}` +
    (state.bias ? `, plus ${state.filters} biases.` : ", no biases.");
}

/** An editable number cell bound to a place in the state. */
function numberCell(get, set, label) {
  const input = h("input", { class: "cell-in", attrs: { type: "text", inputmode: "decimal", "aria-label": label,
    value: formatNumber(get()) } });
  input.addEventListener("input", () => {
    const value = Number(input.value.replace(",", "."));
    const ok = input.value.trim() !== "" && Number.isFinite(value);
    input.dataset.state = ok ? "" : "error";
    if (!ok) return;
    set(value);
    refreshOutputs();
    highlight();
  });
  return input;
}

function grid(rows, cols, cell, cls = "grid") {
  const table = h("table", { class: cls });
  for (let i = 0; i < rows; i++) {
    const tr = h("tr");
    for (let j = 0; j < cols; j++) tr.append(cell(i, j));
    table.append(tr);
  }
  return table;
}

function build() {
  const { size, pad, channels, kernel } = state;
  const full = size + 2 * pad;
  els.formula.textContent = formula();
  els.inputDims.textContent = `${size}×${size}×${channels}` + (pad ? `, padded to ${full}×${full}×${channels}` : "");
  els.input.replaceChildren(...state.input.map((plane, c) => h("figure", { class: "plane" },
    h("figcaption", { text: `channel ${c}` }),
    grid(full, full, (i, j) => {
      const inside = i >= pad && i < size + pad && j >= pad && j < size + pad;
      const td = h("td", { dataset: { c: String(c), i: String(i), j: String(j) } });
      if (inside) {
        td.append(numberCell(() => plane[i - pad][j - pad], (v) => { plane[i - pad][j - pad] = v; },
          `input channel ${c}, row ${i - pad}, column ${j - pad}`));
      } else {
        td.className = "pad";
        td.textContent = "0";
      }
      return td;
    }))));
  els.weights.replaceChildren(...state.weights.map((filter, f) => h("div", { class: "filter", dataset: { f: String(f) } },
    h("h3", { text: `Filter W${f} (${kernel}×${kernel}×${channels})` }),
    h("div", { class: "filter-planes" }, ...filter.map((plane, c) => h("figure", { class: "plane" },
      h("figcaption", { text: `channel ${c}` }),
      grid(kernel, kernel, (a, b) => h("td", {}, numberCell(() => plane[a][b], (v) => { plane[a][b] = v; },
        `filter ${f}, channel ${c}, row ${a}, column ${b}`)))))),
    state.bias
      ? h("label", { class: "bias" }, `bias b${f} `, numberCell(() => state.biases[f], (v) => { state.biases[f] = v; },
        `bias of filter ${f}`))
      : h("p", { class: "bias", text: "no bias" }))));
  buildOutputs();
  highlight();
}

function buildOutputs() {
  if (!fits()) {
    els.outputDims.textContent = "";
    els.output.replaceChildren(h("p", { class: "empty", text: "no output: the filter does not fit" }));
    els.calc.replaceChildren();
    return;
  }
  const side = outputSide();
  els.outputDims.textContent = `${side}×${side}×${state.filters}`;
  els.output.replaceChildren(...state.weights.map((_, f) => h("figure", { class: "plane" },
    h("figcaption", { text: `channel ${f} (filter W${f})` }),
    grid(side, side, (y, x) => {
      const button = h("button", { class: "out-cell", attrs: { type: "button" },
        dataset: { f: String(f), y: String(y), x: String(x) } });
      button.addEventListener("click", () => stepper.go(f * side * side + y * side + x));
      return h("td", {}, button);
    }))));
  refreshOutputs();
}

function refreshOutputs() {
  if (!fits()) return;
  for (const button of els.output.querySelectorAll("button.out-cell")) {
    const { f, y, x } = button.dataset;
    const cell = convCell(state.input, state.weights, biases(), options(), +f, +y, +x);
    button.textContent = formatNumber(cell.out);
    button.setAttribute("aria-label", `output channel ${f}, row ${y}, column ${x}: ${formatNumber(cell.out)}`);
  }
}

/** Mark the current output cell, its filter and its receptive field, and list its products. */
function highlight() {
  for (const el of document.querySelectorAll(".current, .rf, .active")) el.classList.remove("current", "rf", "active");
  if (!outputCount()) return;
  const [f, y, x] = cellOf(stepper.index);
  const cell = convCell(state.input, state.weights, biases(), options(), f, y, x);
  els.output.querySelector(`button[data-f="${f}"][data-y="${y}"][data-x="${x}"]`)?.classList.add("current");
  els.weights.querySelector(`.filter[data-f="${f}"]`)?.classList.add("active");
  for (const t of cell.terms) {
    els.input.querySelector(`td[data-c="${t.c}"][data-i="${t.i}"][data-j="${t.j}"]`)?.classList.add("rf");
  }
  renderCalc(f, y, x, cell);
}

/** A factor of a product: negative numbers in parentheses, 2×(-1). */
function factor(v) {
  return v < 0 ? `(${formatNumber(v)})` : formatNumber(v);
}

function renderCalc(f, y, x, cell) {
  const lines = [];
  const channelSums = [];
  for (let c = 0; c < state.channels; c++) {
    const terms = cell.terms.filter((t) => t.c === c);
    const sum = terms.reduce((s, t) => s + t.product, 0);
    channelSums.push(sum);
    lines.push(h("li", { class: "calc-line" },
      h("span", { class: "calc-label", text: `channel ${c}: ` }),
      ...terms.flatMap((t, k) => [k ? " + " : "", h("span", {
        class: "term", dataset: { padding: String(t.padding) },
        title: t.padding ? "a padding zero" : `input (${t.i - state.pad}, ${t.j - state.pad}) × weight (${t.a}, ${t.b})`,
        text: `${factor(t.value)}×${factor(t.weight)}`,
      })]),
      h("span", { class: "calc-eq", text: ` = ${formatNumber(sum)}` })));
  }
  const parts = channelSums.map(formatNumber);
  if (state.bias) parts.push(`${formatNumber(cell.bias)} (bias)`);
  els.calc.replaceChildren(
    h("p", { class: "calc-head", text: `Output channel ${f}, row ${y}, column ${x}: filter W${f} over input rows ` +
      `${y * state.stride - state.pad} to ${y * state.stride - state.pad + state.kernel - 1}, columns ` +
      `${x * state.stride - state.pad} to ${x * state.stride - state.pad + state.kernel - 1}` +
      `${state.pad ? " (negative or past the edge: padding)" : ""}. ${cell.terms.length} products:` }),
    h("ol", { class: "calc-lines" }, ...lines),
    h("p", { class: "calc-total" }, `sum = ${parts.join(" + ")} = `,
      h("b", { attrs: { id: "conv-result" }, dataset: { value: String(cell.out) }, text: formatNumber(cell.out) })));
}

function classic() {
  Object.assign(state, CLASSIC);
  randomise(seededRandom(CLASSIC_SEED));
  syncForm();
  stepper.go(0, false);
  build();
}

els.form.addEventListener("input", (event) => {
  if (event.target.type === "number" && event.target.value === "") return; // mid-typing
  const before = JSON.stringify([state.size, state.channels, state.filters, state.kernel]);
  readForm();
  if (JSON.stringify([state.size, state.channels, state.filters, state.kernel]) !== before) resize();
  stepper.go(Math.min(stepper.index, Math.max(0, outputCount() - 1)), false);
  build();
});
$("conv-classic").addEventListener("click", classic);
$("conv-random").addEventListener("click", () => { randomise(); build(); });
$("conv-prev").addEventListener("click", () => stepper.step(-1));
$("conv-next").addEventListener("click", () => stepper.step(1));

classic();
// for tests and the console: the explorer's state and the highlighted cell, read-only by convention
Object.defineProperty(window, "convExplorer", {
  value: { state, cell: () => (outputCount() ? cellOf(stepper.index) : null) }, configurable: true,
});
