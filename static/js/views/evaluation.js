// The latest test-set evaluation per class: a confusion matrix (rows: true class, columns:
// predicted class, shaded by the share of the row) and each class's accuracy. Clicking a cell
// lists its test images (GET /api/evaluation/confusion/{true}/{predicted}); clicking one of
// those makes it the probe image.

import * as api from "../api.js";
import { h } from "../dom.js";
import { formatPercent } from "../format.js";

/** @typedef {import('../socket.js').Store} Store */

export class EvaluationView {
  /** @param {Store} store @param {{root: HTMLElement, step: HTMLElement}} els */
  constructor(store, els) {
    this.store = store;
    this.els = els;
    /** @type {{truth: number, predicted: number}|null} the cell whose images are listed */
    this.selected = null;
    this.gallery = h("div", { class: "eval-gallery", attrs: { "aria-live": "polite" } });
    this.token = 0;
    els.root.append(h("p", { class: "empty", text: "waiting for the first evaluation on the test set…" }));
    els.root.addEventListener("click", (event) => {
      const target = /** @type {HTMLElement} */ (event.target);
      const cell = /** @type {HTMLElement|null} */ (target.closest("td.cell"));
      if (cell) this.select(Number(cell.dataset.truth), Number(cell.dataset.predicted));
      const thumb = /** @type {HTMLElement|null} */ (target.closest("button.eval-thumb"));
      if (thumb) this.probe(Number(thumb.dataset.index));
      if (target.closest("button.eval-close")) this.select(null, null);
    });
    els.root.addEventListener("keydown", (event) => {
      const cell = /** @type {HTMLElement|null} */ (/** @type {HTMLElement} */ (event.target).closest("td.cell"));
      if (cell && (event.key === "Enter" || event.key === " ")) {
        event.preventDefault();
        this.select(Number(cell.dataset.truth), Number(cell.dataset.predicted));
      }
    });
  }

  /** List the test images of a cell (null, null: close the list). */
  async select(truth, predicted) {
    const token = ++this.token;
    this.selected = truth === null ? null : { truth, predicted };
    this.#markSelected();
    if (!this.selected) {
      this.gallery.replaceChildren();
      return;
    }
    const answer = await api.confusionCell(truth, predicted);
    if (token !== this.token) return;
    if (!answer.ok) {
      this.gallery.replaceChildren(h("p", { class: "form-msg", dataset: { state: "error" }, text: answer.message }));
      return;
    }
    const cell = answer.body;
    const again = focusKey(this.gallery);
    const what = truth === predicted ? `${cell.true} recognised` : `${cell.true} taken for ${cell.predicted}`;
    const shown = cell.indices.length < cell.count ? ` (the first ${cell.indices.length})` : "";
    this.gallery.replaceChildren(
      h("div", { class: "eval-gallery-head" },
        h("span", { text: `${what}: ${cell.count} test image${cell.count === 1 ? "" : "s"}${shown}, ` +
          `at the evaluation of step ${cell.step}. Click one to probe it.` }),
        h("button", { class: "eval-close", text: "Close", attrs: { type: "button" } })),
      h("div", { class: "eval-thumbs" }, ...cell.indices.map((index) =>
        h("button", { class: "eval-thumb", dataset: { index: String(index) },
          attrs: { type: "button", title: `test image ${index}: use it as the probe image` } },
          h("img", { class: "pixelated", attrs: { src: api.testImageUrl(index), alt: `test image ${index}`,
            width: "48", height: "48", loading: "lazy" } })))));
    refocus(this.gallery, again);
  }

  async probe(index) {
    this.store.showProbe();
    const answer = await api.setProbe(index);
    if (!answer.ok) {
      this.gallery.prepend(h("p", { class: "form-msg", dataset: { state: "error" }, text: answer.message }));
    }
  }

  #markSelected() {
    for (const td of this.els.root.querySelectorAll("td.cell")) {
      const el = /** @type {HTMLElement} */ (td);
      const on = !!this.selected && Number(el.dataset.truth) === this.selected.truth
        && Number(el.dataset.predicted) === this.selected.predicted;
      el.setAttribute("aria-pressed", String(on));
    }
  }

  /** @param {Set<string>} topics */
  update(topics) {
    if (!topics.has("eval") && !topics.has("presets")) return;
    const ev = this.store.lastEval;
    const classes = this.store.classes;
    if (!ev) {
      this.selected = null;
      this.gallery.replaceChildren();
      this.els.root.replaceChildren(h("p", { class: "empty", text: "waiting for the first evaluation on the test set…" }));
      this.els.step.textContent = "";
      return;
    }
    this.els.step.textContent = `step ${ev.step}, epoch ${ev.epoch.toFixed(2)}: ${formatPercent(ev.accuracy)} right`;
    const n = Math.max(classes.length, (ev.per_class || []).length);
    const name = (i) => classes[i] ?? String(i);
    const confusion = ev.confusion;
    const head = h("tr", {}, h("th", { class: "corner", text: "true ↓ / said →" }),
      ...(confusion ? Array.from({ length: n }, (_, j) => h("th", { class: "col", title: name(j), text: short(name(j)) })) : []),
      h("th", { text: "accuracy" }));
    const rows = Array.from({ length: n }, (_, i) => {
      const row = confusion ? confusion[i] || [] : [];
      const total = row.reduce((s, v) => s + v, 0);
      const cells = row.map((count, j) => {
        const share = total ? count / total : 0;
        const td = h("td", { class: i === j ? "cell diag" : "cell",
          title: `${name(i)} seen as ${name(j)}: ${count} (${formatPercent(share)}); click to see them`,
          text: count ? String(count) : "",
          dataset: { truth: String(i), predicted: String(j) }, attrs: { tabindex: "0", role: "button" } });
        td.style.setProperty("--share", share.toFixed(3));
        return td;
      });
      const acc = (ev.per_class || [])[i];
      const fill = h("span", { class: "bar-fill" });
      fill.style.width = `${Math.max(0, Math.min(1, acc ?? 0)) * 100}%`;
      return h("tr", {}, h("th", { class: "row", text: name(i) }), ...cells,
        h("td", { class: "acc" }, h("span", { class: "bar-track" }, fill), h("span", { class: "bar-value", text: formatPercent(acc, 0) })));
    });
    const again = focusKey(this.els.root); // each evaluation redraws the table: the keyboard keeps its place
    this.els.root.replaceChildren(h("table", { class: "confusion" }, h("thead", {}, head), h("tbody", {}, ...rows)),
      this.gallery);
    refocus(this.els.root, again);
    this.#markSelected();
    if (this.selected && topics.has("eval")) this.select(this.selected.truth, this.selected.predicted);
  }
}

/**
 * A selector for the cell, image or button focused inside `root`, to find it again once redrawn
 * (null: the focus is elsewhere). @param {HTMLElement} root
 */
function focusKey(root) {
  const el = document.activeElement;
  if (!(el instanceof HTMLElement) || !root.contains(el)) return null;
  if (el.matches("td.cell")) return `td.cell[data-truth="${el.dataset.truth}"][data-predicted="${el.dataset.predicted}"]`;
  if (el.matches("button.eval-thumb")) return `button.eval-thumb[data-index="${el.dataset.index}"]`;
  return el.matches("button.eval-close") ? "button.eval-close" : null;
}

/** @param {HTMLElement} root @param {string|null} key from focusKey */
function refocus(root, key) {
  const el = key ? /** @type {HTMLElement|null} */ (root.querySelector(key)) : null;
  if (el) el.focus({ preventScroll: true });
}

function short(name) {
  return name.length > 5 ? `${name.slice(0, 4)}.` : name;
}
