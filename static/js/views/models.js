// The model picker: the preset zoo with each network's size, the current one marked.
// Choosing one asks the server to switch; the layer view follows when the `model` message comes.

import * as api from "../api.js";
import { h, isOff, setEnabled } from "../dom.js";
import { formatCount } from "../format.js";
import { adoptRun, showMessage } from "./controls.js";

/** @typedef {import('../socket.js').Store} Store */

export class ModelsView {
  /** @param {Store} store @param {{list: HTMLElement, msg: HTMLElement}} els */
  constructor(store, els) {
    this.store = store;
    this.els = els;
    this.pending = null;
    this.notes = new Map(); // name -> note, from GET /api/models (hello carries no notes)
    api.listModels().then((result) => {
      if (!result.ok || !Array.isArray(result.body)) return;
      for (const m of result.body) if (m.note) this.notes.set(m.name, m.note);
      if (!this.store.presets.length) {
        this.store.presets = result.body;
        this.store.emit("presets");
      } else {
        this.#build();
      }
    });
  }

  /** @param {Set<string>} topics */
  update(topics) {
    if (topics.has("presets")) this.#build();
    if (topics.has("presets") || topics.has("run") || topics.has("connection")) this.#mark();
  }

  #build() {
    const items = this.store.presets.map((p) => {
      const button = h("button", { class: "model", dataset: { name: p.name }, attrs: { type: "button" },
        title: this.notes.get(p.name) || p.title },
      h("span", { class: "model-title", text: p.title || p.name }),
      h("span", { class: "model-meta", text: `${formatCount(p.params)} params · ${formatCount(p.macs)} MACs · ${p.name}` }));
      button.addEventListener("click", () => {
        if (!isOff(button)) this.#choose(p.name);
      });
      return h("li", {}, button);
    });
    this.els.list.replaceChildren(...items);
  }

  #mark() {
    const current = this.store.run ? this.store.run.model : null;
    const live = this.store.connection.state === "open";
    for (const button of this.els.list.querySelectorAll("button.model")) {
      const el = /** @type {HTMLButtonElement} */ (button);
      const isCurrent = el.dataset.name === current;
      el.setAttribute("aria-pressed", String(isCurrent));
      setEnabled(el, live && this.pending === null);
    }
  }

  /** @param {string} name */
  async #choose(name) {
    if (this.store.run && this.store.run.model === name) {
      showMessage(this.els.msg, "ok", `${name} is already training.`);
      return;
    }
    this.pending = name;
    this.#mark();
    showMessage(this.els.msg, "pending", `switching to ${name}…`);
    const result = await api.setModel(name);
    this.pending = null;
    adoptRun(this.store, result);
    showMessage(this.els.msg, result.ok ? "ok" : "error",
      result.ok ? `Now training ${name} from fresh weights.` : `Not switched: ${result.message || "refused"}`);
    this.#mark();
  }
}
