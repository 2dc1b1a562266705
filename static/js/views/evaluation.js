// The latest test-set evaluation per class: a confusion matrix (rows: true class, columns:
// predicted class, shaded by the share of the row) and each class's accuracy.

import { h } from "../dom.js";
import { formatPercent } from "../format.js";

/** @typedef {import('../socket.js').Store} Store */

export class EvaluationView {
  /** @param {Store} store @param {{root: HTMLElement, step: HTMLElement}} els */
  constructor(store, els) {
    this.store = store;
    this.els = els;
    els.root.append(h("p", { class: "empty", text: "waiting for the first evaluation on the test set…" }));
  }

  /** @param {Set<string>} topics */
  update(topics) {
    if (!topics.has("eval") && !topics.has("presets")) return;
    const ev = this.store.lastEval;
    const classes = this.store.classes;
    if (!ev) {
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
          title: `${name(i)} seen as ${name(j)}: ${count} (${formatPercent(share)})`, text: count ? String(count) : "" });
        td.style.setProperty("--share", share.toFixed(3));
        return td;
      });
      const acc = (ev.per_class || [])[i];
      const fill = h("span", { class: "bar-fill" });
      fill.style.width = `${Math.max(0, Math.min(1, acc ?? 0)) * 100}%`;
      return h("tr", {}, h("th", { class: "row", text: name(i) }), ...cells,
        h("td", { class: "acc" }, h("span", { class: "bar-track" }, fill), h("span", { class: "bar-value", text: formatPercent(acc, 0) })));
    });
    this.els.root.replaceChildren(h("table", { class: "confusion" }, h("thead", {}, head), h("tbody", {}, ...rows)));
  }
}

function short(name) {
  return name.length > 5 ? `${name.slice(0, 4)}.` : name;
}
