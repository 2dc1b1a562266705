// Who may change the run (GET /api/session, docs/protocol.md). The owner, who opened the address
// `convscope serve` printed, sees every control; a viewer sees the run but not the controls that
// change it (they would be refused), and a line saying so.

import * as api from "../api.js";

/** @typedef {import('../socket.js').Store} Store */

export class AccessView {
  /**
   * @param {Store} store
   * @param {{notice: HTMLElement, body: HTMLElement, hyperForm: HTMLFormElement}} el
   */
  constructor(store, el) {
    this.store = store;
    this.el = el;
    /** @type {boolean|null} null until the server has said */
    this.owner = null;
  }

  /** @param {Set<string>} topics */
  update(topics) {
    // ask again on every (re)connection: a restarted server has a new token
    if (topics.has("connection") && this.store.connection.state === "open") this.#ask();
  }

  async #ask() {
    const result = await api.request("GET", "/api/session");
    if (!result.ok) return;
    const owner = Boolean(result.body.owner);
    this.owner = owner;
    this.el.body.classList.toggle("view-only", !owner);
    this.el.body.dataset.access = owner ? "owner" : "viewer";
    for (const input of this.el.hyperForm.querySelectorAll("input, select, button")) {
      /** @type {HTMLInputElement} */ (input).disabled = !owner;
    }
    this.el.notice.textContent = result.body.message;
    this.el.notice.title = owner ? "you opened the owner's address" :
      "only the person who started the server (with its token) can pause, change or reset the run";
    this.el.notice.hidden = false;
  }
}
