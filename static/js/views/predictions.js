// Example predictions: a fixed sample of test images with the network's top-3 classes as bars,
// refreshed whenever the server sends a `predictions` message.

import * as api from "../api.js";
import { h } from "../dom.js";
import { formatPercent } from "../format.js";
import { className } from "./probepicker.js";

/** @typedef {import('../socket.js').Store} Store */

export class PredictionsView {
  /** @param {Store} store @param {{root: HTMLElement, step: HTMLElement}} els */
  constructor(store, els) {
    this.store = store;
    this.els = els;
    /** @type {Map<number, {card: HTMLElement, bars: HTMLElement, verdict: HTMLElement}>} */
    this.cards = new Map();
    els.root.append(h("p", { class: "empty", text: "waiting for the first predictions…" }));
  }

  /** @param {Set<string>} topics */
  update(topics) {
    if (!topics.has("predictions")) return;
    const preds = this.store.predictions;
    const classes = this.store.classes;
    if (!preds || !preds.items.length) {
      this.cards.clear();
      this.els.root.replaceChildren(h("p", { class: "empty", text: "waiting for the first predictions…" }));
      this.els.step.textContent = "";
      return;
    }
    const indices = preds.items.map((i) => i.index);
    if (indices.length !== this.cards.size || indices.some((i) => !this.cards.has(i))) {
      this.cards.clear();
      this.els.root.replaceChildren(...preds.items.map((item) => this.#card(item, classes)));
    }
    for (const item of preds.items) this.#fill(/** @type {any} */ (this.cards.get(item.index)), item, classes);
    this.els.step.textContent = `at step ${preds.step}`;
  }

  #card(item, classes) {
    const truth = className(classes, item.label);
    const img = h("img", { class: "pixelated", attrs: { src: api.testImageUrl(item.index), alt: `test image ${item.index}: ${truth}`, width: "64", height: "64" } });
    const verdict = h("span", { class: "verdict" });
    const bars = h("ol", { class: "bars" });
    const card = h("figure", { class: "prediction", dataset: { index: String(item.index) } },
      img, h("figcaption", {}, h("span", { class: "truth", text: truth }), verdict), bars);
    this.cards.set(item.index, { card, bars, verdict });
    return card;
  }

  #fill(parts, item, classes) {
    const truth = className(classes, item.label);
    const top = item.top || [];
    const correct = top.length > 0 && className(classes, top[0].class) === truth;
    parts.card.dataset.correct = String(correct);
    parts.verdict.textContent = correct ? "right" : "wrong";
    parts.bars.replaceChildren(...top.slice(0, 3).map((t) => {
      const name = className(classes, t.class);
      const fill = h("span", { class: "bar-fill" });
      fill.style.width = `${Math.max(0, Math.min(1, t.p)) * 100}%`;
      return h("li", { class: "bar", dataset: { truth: String(name === truth) } },
        h("span", { class: "bar-label", text: name }),
        h("span", { class: "bar-value", text: formatPercent(t.p, 0) }),
        h("span", { class: "bar-track" }, fill));
    }));
  }
}
