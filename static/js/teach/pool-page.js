// The pooling explorer (/learn/pool): a small editable matrix, a max or average window stepping
// over it, and the values behind the highlighted output. The arithmetic is conv.js's.

import { h } from "../dom.js";
import { outputSize, poolCell, randomVolume } from "./conv.js";
import { formatNumber, Stepper } from "./explore.js";

// The course's example: 2x2 max pooling with stride 2 on this matrix gives [[6, 8], [3, 4]].
const EXAMPLE = [[1, 1, 2, 4], [5, 6, 7, 8], [3, 2, 1, 0], [1, 2, 3, 4]];
const LIMITS = { rows: [1, 8], cols: [1, 8], size: [1, 4], stride: [1, 4], pad: [0, 2] };

const state = { rows: 4, cols: 4, mode: "max", size: 2, stride: 2, pad: 0, matrix: EXAMPLE.map((r) => [...r]) };
const $ = (id) => /** @type {any} */ (document.getElementById(id));
const els = {
  form: $("pool-controls"), formula: $("pool-formula"), input: $("pool-input"), output: $("pool-output"),
  calc: $("pool-calc"), inputDims: $("pool-input-dims"), outputDims: $("pool-output-dims"), play: $("pool-play"),
};
const stepper = new Stepper(() => count(), () => highlight(), els.play);

const options = () => ({ mode: state.mode, size: state.size, stride: state.stride, pad: state.pad });
const volume = () => [state.matrix];

function problem() {
  const { rows, cols, size, pad } = state;
  if (pad > size / 2) return `Padding ${pad} is more than half the ${size}×${size} window: a window could see only padding.`;
  if (size > rows + 2 * pad || size > cols + 2 * pad) {
    return `A ${size}×${size} window does not fit in a ${rows}×${cols} matrix with padding ${pad}.`;
  }
  return null;
}

function sides() {
  return [outputSize(state.rows, state.size, state.stride, state.pad), outputSize(state.cols, state.size, state.stride, state.pad)];
}

function count() {
  if (problem()) return 0;
  const [ho, wo] = sides();
  return ho * wo;
}

function syncForm() {
  for (const name of Object.keys(LIMITS)) els.form.elements[name].value = String(state[name]);
  els.form.elements.mode.value = state.mode;
}

function readForm() {
  for (const [name, [lo, hi]] of Object.entries(LIMITS)) {
    const value = Number(els.form.elements[name].value);
    if (Number.isInteger(value)) state[name] = Math.min(hi, Math.max(lo, value));
  }
  state.mode = els.form.elements.mode.value;
  const fresh = randomVolume([state.rows, state.cols], 0, 9);
  state.matrix = fresh.map((row, i) => row.map((v, j) => state.matrix[i]?.[j] ?? v));
}

function grid(rows, cols, cell) {
  const table = h("table", { class: "grid" });
  for (let i = 0; i < rows; i++) {
    const tr = h("tr");
    for (let j = 0; j < cols; j++) tr.append(cell(i, j));
    table.append(tr);
  }
  return table;
}

function build() {
  const { rows, cols, pad } = state;
  const trouble = problem();
  els.inputDims.textContent = `${rows}×${cols}` + (pad ? `, padded to ${rows + 2 * pad}×${cols + 2 * pad}` : "");
  els.input.replaceChildren(grid(rows + 2 * pad, cols + 2 * pad, (i, j) => {
    const inside = i >= pad && i < rows + pad && j >= pad && j < cols + pad;
    const td = h("td", { dataset: { i: String(i), j: String(j) } });
    if (!inside) {
      td.className = "pad";
      td.textContent = state.mode === "max" ? "" : "0";
      td.title = state.mode === "max" ? "padding: max pooling ignores it" : "padding: a zero, counted in the average";
      return td;
    }
    const input = h("input", { class: "cell-in", attrs: { type: "text", inputmode: "decimal",
      "aria-label": `row ${i - pad}, column ${j - pad}`, value: formatNumber(state.matrix[i - pad][j - pad]) } });
    input.addEventListener("input", () => {
      const value = Number(input.value.replace(",", "."));
      const ok = input.value.trim() !== "" && Number.isFinite(value);
      input.dataset.state = ok ? "" : "error";
      if (!ok) return;
      state.matrix[i - pad][j - pad] = value;
      refreshOutputs();
      highlight();
    });
    td.append(input);
    return td;
  }));
  if (trouble) {
    els.formula.textContent = trouble;
    els.outputDims.textContent = "";
    els.output.replaceChildren(h("p", { class: "empty", text: "no output" }));
    els.calc.replaceChildren();
    return;
  }
  const [ho, wo] = sides();
  els.formula.textContent = `Output = (input + 2×padding − window) / stride + 1: ` +
    `(${rows} + 2×${pad} − ${state.size}) / ${state.stride} + 1 = ${ho} rows and ` +
    `(${cols} + 2×${pad} − ${state.size}) / ${state.stride} + 1 = ${wo} columns (rounded down). ` +
    (state.stride < state.size ? "The stride is smaller than the window, so neighbouring windows overlap." : "");
  els.outputDims.textContent = `${ho}×${wo}`;
  els.output.replaceChildren(grid(ho, wo, (y, x) => {
    const button = h("button", { class: "out-cell", attrs: { type: "button" }, dataset: { y: String(y), x: String(x) } });
    button.addEventListener("click", () => stepper.go(y * wo + x));
    return h("td", {}, button);
  }));
  refreshOutputs();
  highlight();
}

function refreshOutputs() {
  if (problem()) return;
  for (const button of els.output.querySelectorAll("button.out-cell")) {
    button.textContent = formatNumber(poolCell(volume(), options(), 0, +button.dataset.y, +button.dataset.x).out);
  }
}

function highlight() {
  for (const el of document.querySelectorAll(".current, .rf, .chosen")) el.classList.remove("current", "rf", "chosen");
  if (!count()) return;
  const wo = sides()[1];
  const y = Math.floor(stepper.index / wo);
  const x = stepper.index % wo;
  const cell = poolCell(volume(), options(), 0, y, x);
  els.output.querySelector(`button[data-y="${y}"][data-x="${x}"]`)?.classList.add("current");
  for (const v of cell.values) els.input.querySelector(`td[data-i="${v.i}"][data-j="${v.j}"]`)?.classList.add("rf");
  if (cell.chosen) els.input.querySelector(`td[data-i="${cell.chosen.i}"][data-j="${cell.chosen.j}"]`)?.classList.add("chosen");
  const shown = (state.mode === "max" ? cell.values.filter((v) => !v.padding) : cell.values).map((v) => formatNumber(v.value));
  const result = h("b", { attrs: { id: "pool-result" }, dataset: { value: String(cell.out) }, text: formatNumber(cell.out) });
  const line = state.mode === "max"
    ? h("p", { class: "calc-total" }, `max(${shown.join(", ")}) = `, result)
    : h("p", { class: "calc-total" }, `(${shown.join(" + ")}) / ${state.size * state.size} = `, result);
  els.calc.replaceChildren(
    h("p", { class: "calc-head", text: `Output row ${y}, column ${x}: the ${state.size}×${state.size} window at input rows ` +
      `${y * state.stride - state.pad} to ${y * state.stride - state.pad + state.size - 1}, columns ` +
      `${x * state.stride - state.pad} to ${x * state.stride - state.pad + state.size - 1}` +
      (state.pad ? " (negative or past the edge: padding)." : ".") }),
    line,
    h("p", { class: "caption", text: state.mode === "max"
      ? "Max pooling keeps the strongest response in the window (green): where exactly it was matters less."
      : "Average pooling keeps the mean of the window (padding counts as zeros): a smoothed, smaller picture." }));
}

els.form.addEventListener("input", (event) => {
  if (event.target.type === "number" && event.target.value === "") return;
  readForm();
  stepper.go(0, false);
  build();
});
$("pool-example").addEventListener("click", () => {
  Object.assign(state, { rows: 4, cols: 4, mode: "max", size: 2, stride: 2, pad: 0, matrix: EXAMPLE.map((r) => [...r]) });
  syncForm();
  stepper.go(0, false);
  build();
});
$("pool-random").addEventListener("click", () => {
  state.matrix = randomVolume([state.rows, state.cols], 0, 9);
  build();
});
$("pool-prev").addEventListener("click", () => stepper.step(-1));
$("pool-next").addEventListener("click", () => stepper.step(1));

syncForm();
build();
Object.defineProperty(window, "poolExplorer", { value: { state }, configurable: true });
