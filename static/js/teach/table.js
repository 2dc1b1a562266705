// The layer table as HTML (the network editor and the cost lab): output shape, parameters and
// MACs per layer, block rows followed by their sublayers, and the totals.

import { h } from "../dom.js";

/** @typedef {import('../types.js').LayerRow} LayerRow */

/** 43352064 -> "43,352,064": exact, for checking by hand. */
export function exact(n) {
  return Number(n).toLocaleString("en-US");
}

/** 43352064 -> "43.35M", 160563200 -> "160.6M", 1216 -> "1,216": four significant digits. */
export function readable(n) {
  for (const [unit, scale] of [["G", 1e9], ["M", 1e6]]) {
    if (Math.abs(n) >= scale) return `${Number((n / scale).toPrecision(4))}${unit}`;
  }
  return exact(n);
}

/** [16, 32, 32] -> "16×32×32"; [10] -> "10". */
export function shape(s) {
  return s.join("×");
}

/**
 * @param {LayerRow[]} rows
 * @param {{params: number, macs: number}} totals
 * @param {string} [id]
 */
export function layerTable(rows, totals, id) {
  const cell = (text, cls = "") => h("td", { class: cls, text });
  const body = rows.map((row) => h("tr", { dataset: { depth: String(row.depth), path: row.path.join(".") } },
    cell(row.path.join(".")), cell(row.name), cell(shape(row.output_shape)),
    cell(exact(row.params), "num"), cell(exact(row.macs), "num")));
  return h("table", { class: "layer-table", attrs: id ? { id } : {} },
    h("thead", {}, h("tr", {}, ...["#", "layer", "output", "parameters", "MACs"].map(
      (t, i) => h("th", { class: i >= 3 ? "num" : "", text: t })))),
    h("tbody", {}, ...body),
    h("tfoot", {}, h("tr", {}, cell(""), cell("total"), cell(""),
      h("td", { class: "num", title: readable(totals.params), text: exact(totals.params) }),
      h("td", { class: "num", title: readable(totals.macs), text: exact(totals.macs) }))));
}

/**
 * A wide table in a box that scrolls sideways on a narrow screen, so the page itself does not. The
 * box is focusable (and named), so keyboard users can scroll it too.
 * @param {HTMLElement} table @param {string} label
 */
export function scrollBox(table, label) {
  return h("div", { class: "table-scroll", attrs: { tabindex: "0", role: "region", "aria-label": label } }, table);
}
