// Run status and controls: the status line, pause/resume/step/reset, and the hyperparameter form,
// whose fields apply one at a time as soon as they change and say whether the server accepted.

import * as api from "../api.js";
import { isOff, setEnabled } from "../dom.js";
import { formatCount, formatPercent, formatValue } from "../format.js";

/** @typedef {import('../socket.js').Store} Store */
/** @typedef {import('../api.js').ApiResult} ApiResult */

const FIELDS = ["lr", "momentum", "batch_size", "weight_decay", "optimizer", "schedule", "epochs"];
const CHOICES = new Set(["optimizer", "schedule"]); // <select>s: sent as strings
const FIELD_NAMES = {
  lr: "learning rate", momentum: "momentum", batch_size: "batch size", weight_decay: "weight decay",
  optimizer: "optimiser", schedule: "schedule", epochs: "number of epochs",
};

/**
 * Show an API result in a message element: green when accepted, red with the server's words when not.
 * @param {HTMLElement} el
 * @param {"pending"|"ok"|"error"|""} state
 * @param {string} text
 */
export function showMessage(el, state, text) {
  el.dataset.state = state;
  el.textContent = text;
}

/**
 * Put a reply's run state into the store right away, so the page does not wait for the
 * broadcast `state` message.
 * @param {Store} store
 * @param {ApiResult} result
 */
export function adoptRun(store, result) {
  if (result.body && result.body.run && typeof result.body.run === "object") {
    store.run = result.body.run;
    store.emit("run");
  }
}

export class ControlsView {
  /**
   * @param {Store} store
   * @param {Document} doc
   */
  constructor(store, doc) {
    this.store = store;
    const $ = (id) => /** @type {any} */ (doc.getElementById(id));
    this.el = {
      pill: $("status-pill"), model: $("stat-model"), step: $("stat-step"), epoch: $("stat-epoch"),
      ips: $("stat-ips"), acc: $("stat-acc"), device: $("stat-device"), conn: $("conn"),
      pause: $("btn-pause"), stepBtn: $("btn-step"), reset: $("btn-reset"), runMsg: $("run-msg"),
      form: $("hyper-form"), hyperMsg: $("hyper-msg"),
    };
    /** @type {Record<string, HTMLInputElement|HTMLSelectElement>} */
    this.inputs = Object.fromEntries(FIELDS.map((f) => [f, $(`hp-${f}`)]));
    /** fields the person has edited and the server has not (yet) accepted */
    this.edited = new Set();
    /** @type {Map<string, any>} value being sent per field, so Enter plus blur sends it once */
    this.inflight = new Map();
    this.busy = false;

    this.el.pause.addEventListener("click", () => {
      if (isOff(this.el.pause)) return;
      const paused = this.store.run && this.store.run.status === "paused";
      this.#command(paused ? api.resume : api.pause, paused ? "resumed" : "paused");
    });
    this.el.stepBtn.addEventListener("click", () => {
      if (!isOff(this.el.stepBtn)) this.#command(api.step, "stepped");
    });
    this.el.reset.addEventListener("click", () => {
      if (!isOff(this.el.reset)) this.#command(api.reset, "reset: fresh weights");
    });

    for (const [field, input] of Object.entries(this.inputs)) {
      input.addEventListener("input", () => this.edited.add(field));
      input.addEventListener("change", () => this.#apply(field));
    }
    this.el.form.addEventListener("submit", (event) => {
      event.preventDefault();
      for (const field of this.edited) this.#apply(field);
    });
  }

  /** @param {Set<string>} topics */
  update(topics) {
    const { run, connection } = this.store;
    if (topics.has("connection") || topics.has("run")) this.#buttons();
    if (topics.has("connection")) {
      this.el.conn.dataset.state = connection.state;
      this.el.conn.textContent = connection.state === "open" ? "live" : connection.state;
    }
    if (topics.has("run") && run) {
      document.body.classList.toggle("watched", run.source === "watch");
      this.el.pill.dataset.status = run.status;
      this.el.pill.textContent = run.status;
      this.el.model.textContent = run.model;
      this.el.step.textContent = String(run.step);
      this.el.epoch.textContent = (run.epoch ?? 0).toFixed(2);
      this.el.device.textContent = run.device ? `${run.device} · ${run.precision}` : "";
      this.#syncForm(run.config || {});
    }
    if (topics.has("metrics") || topics.has("run")) {
      // the step and speed move with every metrics batch, not only with `state` messages
      const train = this.store.train;
      if (train.length && run && train.lastX > run.step) this.el.step.textContent = String(train.lastX);
      const ips = train.length ? train.y.images_per_second[train.length - 1] : run && run.images_per_second;
      this.el.ips.textContent = ips ? formatCount(ips) : "-";
    }
    if (topics.has("eval") || topics.has("metrics")) {
      const last = this.store.lastEval;
      this.el.acc.textContent = last ? formatPercent(last.accuracy) : "-";
    }
  }

  #buttons() {
    const { run, connection } = this.store;
    const live = connection.state === "open" && !!run;
    const status = run ? run.status : "";
    const canRun = live && !this.busy && (status === "training" || status === "paused" || status === "finished");
    setEnabled(this.el.pause, canRun && status !== "finished");
    this.el.pause.textContent = status === "paused" ? "Resume" : "Pause";
    this.el.pause.setAttribute("aria-pressed", String(status === "paused"));
    setEnabled(this.el.stepBtn, canRun && status === "paused");
    setEnabled(this.el.reset, live && !this.busy && status !== "loading");
  }

  /** @param {() => Promise<ApiResult>} call @param {string} done */
  async #command(call, done) {
    this.busy = true;
    this.#buttons();
    showMessage(this.el.runMsg, "pending", "…");
    const result = await call();
    this.busy = false;
    adoptRun(this.store, result);
    showMessage(this.el.runMsg, result.ok ? "ok" : "error", result.ok ? done : result.message || "refused");
    this.#buttons();
  }

  /** Form fields follow the server, except those being edited or just rejected. */
  #syncForm(config) {
    for (const [field, input] of Object.entries(this.inputs)) {
      if (this.edited.has(field) || document.activeElement === input) continue;
      const value = config[field];
      if (value === undefined || value === null) continue;
      const text = String(value);
      if (input.value !== text) input.value = text;
    }
  }

  /** Send one changed field to the server and show its verdict. @param {string} field */
  async #apply(field) {
    const input = this.inputs[field];
    const raw = input.value.trim();
    const label = FIELD_NAMES[field];
    let value;
    if (CHOICES.has(field)) {
      value = raw;
    } else if (raw === "" || !Number.isFinite(Number(raw))) {
      input.dataset.state = "error";
      showMessage(this.el.hyperMsg, "error", `Enter a number for the ${label}.`);
      return;
    } else {
      value = Number(raw);
    }
    const current = this.store.run && this.store.run.config ? this.store.run.config[field] : undefined;
    if (current === value && input.dataset.state !== "error") {
      this.edited.delete(field);
      return;
    }
    if (this.inflight.has(field) && this.inflight.get(field) === value) return;
    this.inflight.set(field, value);
    input.dataset.state = "pending";
    showMessage(this.el.hyperMsg, "pending", `setting ${label} to ${formatValue(value)}…`);
    const result = await api.setHyperparams({ [field]: value });
    this.inflight.delete(field);
    if (result.ok) {
      this.edited.delete(field);
      input.dataset.state = "ok";
      adoptRun(this.store, result);
      const now = this.store.run && this.store.run.config ? this.store.run.config[field] : value;
      showMessage(this.el.hyperMsg, "ok", `${capitalise(label)} is now ${formatValue(now)}.`);
    } else {
      input.dataset.state = "error";
      showMessage(this.el.hyperMsg, "error", `${capitalise(label)} not changed: ${result.message || "refused"}`);
    }
  }
}

function capitalise(s) {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
