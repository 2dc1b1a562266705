// The probe-image picker: which test image the layer view shows going through the network.
// Pick by index, at random, or from a strip of thumbnails.

import * as api from "../api.js";
import { h } from "../dom.js";
import { adoptRun, showMessage } from "./controls.js";

/** @typedef {import('../socket.js').Store} Store */

const THUMBS = 12;
const FALLBACK_TEST_SIZE = 10000; // CIFAR-10's test set, when the server does not say

export class ProbePickerView {
  /**
   * @param {Store} store
   * @param {{img: HTMLImageElement, label: HTMLElement, form: HTMLFormElement, index: HTMLInputElement,
   *          random: HTMLButtonElement, thumbs: HTMLElement, msg: HTMLElement}} els
   */
  constructor(store, els) {
    this.store = store;
    this.els = els;
    this.shown = null;
    els.form.addEventListener("submit", (event) => {
      event.preventDefault();
      const raw = els.index.value.trim();
      const index = Number(raw);
      if (raw === "" || !Number.isInteger(index) || index < 0) {
        showMessage(els.msg, "error", "Enter a test image number (0 or more).");
        return;
      }
      this.choose(index);
    });
    els.random.addEventListener("click", () => this.#random());
    this.thumbsFor = undefined; // the test-set size the thumbnail strip was made for
  }

  /** How many test images there are, when the server says (run.dataset.test_size). */
  get testSize() {
    const run = /** @type {any} */ (this.store.run);
    const size = run && run.dataset && run.dataset.test_size;
    return Number.isInteger(size) && size > 0 ? size : null;
  }

  /** A random test image. Without the test-set size, halve the guessed range until one is taken. */
  async #random() {
    if (this.testSize) {
      await this.choose(Math.floor(Math.random() * this.testSize));
      return;
    }
    for (let range = FALLBACK_TEST_SIZE; range >= 1; range = Math.floor(range / 2)) {
      const index = Math.floor(Math.random() * range);
      if (await this.choose(index, range > 1)) return;
    }
  }

  get dataReady() {
    const run = this.store.run;
    return !!run && run.status !== "loading" && !(run.status === "error" && !run.probe);
  }

  /** @param {Set<string>} topics */
  update(topics) {
    if (topics.has("probe") || topics.has("presets")) this.#current();
    if (topics.has("run")) {
      const size = this.testSize;
      if (size) this.els.index.max = String(size - 1);
      else this.els.index.removeAttribute("max");
    }
    if ((topics.has("run") || topics.has("presets")) && this.dataReady && this.thumbsFor !== this.testSize) {
      this.#thumbs();
    }
    if (topics.has("connection")) {
      const live = this.store.connection.state === "open";
      for (const el of this.els.form.querySelectorAll("button, input")) {
        /** @type {HTMLButtonElement} */ (el).disabled = !live;
      }
    }
  }

  #current() {
    const probe = this.store.probe;
    if (!probe || probe.index === this.shown?.index && probe.label === this.shown?.label) return;
    this.shown = { ...probe };
    this.els.img.src = api.testImageUrl(probe.index);
    this.els.label.textContent = `#${probe.index}${probe.label !== null && probe.label !== undefined
      ? `: ${className(this.store.classes, probe.label)}` : ""}`;
    if (document.activeElement !== this.els.index) this.els.index.value = String(probe.index);
    for (const b of this.els.thumbs.querySelectorAll("button")) {
      b.setAttribute("aria-pressed", String(/** @type {HTMLElement} */ (b).dataset.index === String(probe.index)));
    }
  }

  #thumbs() {
    this.thumbsFor = this.testSize;
    const n = this.testSize;
    const picks = new Set();
    if (n > THUMBS) {
      // one random image from each twelfth of the test set
      while (picks.size < THUMBS) picks.add(Math.floor(((picks.size + Math.random()) * n) / THUMBS));
    } else {
      // all of a small test set (a watched run's few probe images: the twelfths above would never
      // find them all); size unknown: the first images always exist
      for (let i = 0; i < (n || THUMBS); i++) picks.add(i);
    }
    const buttons = [...picks].map((index) => {
      const img = h("img", { attrs: { src: api.testImageUrl(index), alt: `test image ${index}`, width: "32", height: "32", loading: "lazy" } });
      img.classList.add("pixelated");
      img.addEventListener("error", () => button.remove(), { once: true });
      const button = h("button", { class: "thumb", title: `test image #${index}`, dataset: { index: String(index) },
        attrs: { type: "button", "aria-pressed": "false" } }, img);
      button.addEventListener("click", () => this.choose(index));
      return button;
    });
    this.els.thumbs.replaceChildren(...buttons);
  }

  /**
   * Ask the server to probe test image `index`; resolves to whether it did.
   * @param {number} index
   * @param {boolean} [quiet]  do not show a refusal (the random search tries again)
   */
  async choose(index, quiet = false) {
    showMessage(this.els.msg, "pending", `using test image #${index}…`);
    const result = await api.setProbe(index);
    if (!result.ok) {
      if (!quiet || result.status === 0 || result.status >= 500) {
        showMessage(this.els.msg, "error", `Not changed: ${result.message || "refused"}`);
        return quiet ? true : false; // a lost server ends the random search too
      }
      return false;
    }
    const body = result.body || {};
    const label = body.run?.probe?.label ?? body.label ?? null;
    this.store.probe = { index, label };
    this.store.emit("probe");
    adoptRun(this.store, result);
    showMessage(this.els.msg, "ok", `Probing test image #${index}; the layers update with the next probe.`);
    return true;
  }
}

/** A label as a class name: labels may come as names or as indices into `classes`. */
export function className(classes, label) {
  if (typeof label === "number" && classes[label] !== undefined) return classes[label];
  return String(label);
}
