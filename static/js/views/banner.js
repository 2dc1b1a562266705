// Banners over the page for what a person must know first: the connection is lost, the dataset
// is still downloading or decoding (with progress), the run stopped with an error (the server's
// message says what to do), or the server reported a problem.

import { h } from "../dom.js";
import { formatBytes, formatCount } from "../format.js";

/** @typedef {import('../socket.js').Store} Store */

export class BannerView {
  /**
   * @param {Store} store
   * @param {HTMLElement} root
   * @param {{retryNow: () => void}} socket
   */
  constructor(store, root, socket) {
    this.store = store;
    this.root = root;
    this.socket = socket;
    this.dismissed = null; // the error text the person closed
    this.countdown = null;
    this.parts = {
      connection: this.#banner("connection", "warn"),
      data: this.#banner("data", "info"),
      finished: this.#banner("finished", "info"),
      run: this.#banner("run-error", "error"),
      error: this.#banner("server-error", "error"),
    };
  }

  #banner(name, level) {
    const el = h("div", { class: "banner", dataset: { banner: name, level }, attrs: { role: level === "error" ? "alert" : "status" } });
    el.hidden = true;
    this.root.append(el);
    return el;
  }

  /** @param {Set<string>} topics */
  update(topics) {
    if (topics.has("connection")) this.#connection();
    if (topics.has("run") || topics.has("connection")) this.#run();
    if (topics.has("error")) this.#error();
  }

  #connection() {
    const { state, retryAt, attempt } = this.store.connection;
    const el = this.parts.connection;
    clearInterval(this.countdown);
    if (state === "open" || (state === "connecting" && attempt === 0)) {
      el.hidden = true;
      return;
    }
    const text = h("span", { class: "banner-text" });
    const retry = h("button", { attrs: { type: "button" }, text: "Retry now" });
    retry.addEventListener("click", () => this.socket.retryNow());
    const tick = () => {
      const seconds = retryAt ? Math.max(0, Math.ceil((retryAt - Date.now()) / 1000)) : 0;
      text.textContent = (state === "reconnecting" ? "Connection to the server lost. " : "Cannot reach the server. ")
        + (retryAt ? `Reconnecting in ${seconds} s (attempt ${attempt})…` : "Reconnecting…")
        + " The charts resume where training is when it comes back.";
    };
    tick();
    if (retryAt) this.countdown = setInterval(tick, 500);
    el.replaceChildren(h("strong", { text: state === "reconnecting" ? "Reconnecting" : "Offline" }), text, retry);
    el.hidden = false;
  }

  #run() {
    const run = this.store.run;
    const data = this.parts.data;
    const progress = run && run.data_progress;
    if (run && (run.status === "loading" || progress) && run.status !== "error") {
      const children = [h("strong", { text: "Preparing the dataset" })];
      if (progress) {
        const bytes = /^(downloading|extracting)/.test(progress.stage);
        const fmt = bytes ? formatBytes : formatCount;
        const amount = progress.total > 0
          ? `${fmt(progress.done)} of ${fmt(progress.total)} (${Math.floor((100 * progress.done) / progress.total)}%)`
          : fmt(progress.done);
        const bar = h("progress", { attrs: { max: String(progress.total || 1) } });
        if (progress.total > 0) /** @type {HTMLProgressElement} */ (bar).value = progress.done;
        else bar.removeAttribute("value"); // indeterminate
        children.push(h("span", { class: "banner-text", text: `${progress.stage}: ${amount}` }), bar);
      } else {
        children.push(h("span", { class: "banner-text", text: run.message || "Loading… training starts when the data is ready." }));
      }
      data.replaceChildren(...children);
      data.hidden = false;
    } else {
      data.hidden = true;
    }
    const finished = this.parts.finished;
    if (run && run.status === "finished") {
      finished.replaceChildren(h("strong", { text: "Training finished" }),
        h("span", { class: "banner-text", text: `${run.message || "all epochs are done"}. ` +
          "Raise the epochs to keep going, press Reset, or pick another model." }));
      finished.hidden = false;
    } else {
      finished.hidden = true;
    }
    const failed = this.parts.run;
    if (run && run.status === "error") {
      failed.replaceChildren(h("strong", { text: "Training stopped" }),
        h("pre", { class: "banner-message", text: run.message || "The training worker reported an error." }),
        h("span", { class: "banner-text", text: "Put that right, then press Reset to try again (data is loaded afresh)." }));
      failed.hidden = false;
    } else {
      failed.hidden = true;
    }
  }

  #error() {
    const el = this.parts.error;
    const message = this.store.error;
    if (!message || message === this.dismissed) {
      el.hidden = true;
      return;
    }
    const close = h("button", { attrs: { type: "button", "aria-label": "dismiss" }, text: "Dismiss" });
    close.addEventListener("click", () => {
      this.dismissed = message;
      el.hidden = true;
    });
    el.replaceChildren(h("strong", { text: "Server says" }), h("span", { class: "banner-text", text: message }), close);
    el.hidden = false;
  }
}
