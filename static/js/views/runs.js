// The runs kept on the server (GET /api/runs, docs/protocol.md): a table of them, the curves of
// the ticked ones overlaid (test accuracy and training loss against the epoch, one colour per run),
// and for the owner Resume, Delete and "Upload checkpoint". The list is fetched when it may have
// changed (on load, when the live run changes, after an evaluation) and every 10 s while the panel
// is open and on screen; out of sight it is only marked stale, and fetched again when it shows.

import uPlot from "../../vendor/uplot/uPlot.esm.js";
import * as api from "../api.js";
import { h } from "../dom.js";
import { formatCount, formatPercent, formatValue } from "../format.js";
import { smooth } from "../series.js";
import { axes, guard, series } from "./charts.js";
import { adoptRun, showMessage } from "./controls.js";

/** @typedef {import('../socket.js').Store} Store */
/** @typedef {import('../types.js').RunSummary} RunSummary */
/** @typedef {import('../types.js').MetricPoint} MetricPoint */
/** @typedef {import('../types.js').EvalPoint} EvalPoint */
/** @typedef {{updated: number, train: MetricPoint[], test: EvalPoint[]}} History */

const PERIOD = 10_000; // ms between refreshes while the panel shows
const MIN_GAP = 1_500; // ms between two fetches of the list: a burst of triggers costs one
const POINTS = 500; // training points per run's curve (the server thins evenly)
const LOSS_SMOOTHING = 0.6; // light: the thinned points are single batches, noisy
const CONFIRM_MS = 4_000; // a Delete waits this long for its second click
const HEIGHT = 160;
// one colour per compared run, so at most this many runs at once
const PALETTE = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#db2777", "#0891b2", "#4b5563"];

/** When a run started, for people: "Nov 24, 14:03:12". @param {number} unix */
function started(unix) {
  return new Date(unix * 1000).toLocaleString([], { month: "short", day: "numeric", hour: "2-digit",
    minute: "2-digit", second: "2-digit" });
}

/** A run's name in legends and messages. @param {RunSummary} run */
function label(run) {
  return `${run.name} · ${started(run.created)}`;
}

/** A run that is not live is not training, whatever its last state said. @param {RunSummary} run */
function statusOf(run) {
  if (run.live || run.status === "finished" || run.status === "error") return run.status;
  return "stopped";
}

/** An upload's file name as a run name the server accepts (letters, digits, ` .()+-`, 60 at most). */
function runName(fileName) {
  const name = fileName.replace(/\.(pt|pth|ckpt)$/i, "").replace(/[^\w .()+-]+/g, "-").trim().slice(0, 60);
  return name || "uploaded";
}

export class RunsView {
  /**
   * @param {Store} store
   * @param {{details: HTMLDetailsElement, count: HTMLElement, problem: HTMLElement, rows: HTMLElement,
   *          upload: HTMLInputElement, msg: HTMLElement, acc: HTMLElement, loss: HTMLElement}} els
   */
  constructor(store, els) {
    this.store = store;
    this.els = els;
    /** @type {RunSummary[]} the most recently active first */
    this.runs = [];
    /** @type {string|null} the run database's problem, from the server */
    this.problem = null;
    /** @type {Map<string, string>} compared run id -> its colour */
    this.compared = new Map();
    /** @type {Map<string, History>} the curves of compared runs, by id */
    this.histories = new Map();
    /** @type {string|null|undefined} the live run the store last named */
    this.liveId = undefined;
    /** @type {string|null} the live run last ticked by default (unticking it sticks until it changes) */
    this.liveTicked = null;
    /** @type {string|null} the run whose Delete waits for its second click */
    this.confirming = null;
    this.confirmTimer = 0;
    this.busy = false; // an owner's command is on its way
    this.onScreen = false;
    this.stale = true; // the table or the curves may be behind the server
    this.fetching = false;
    this.again = false; // asked for a fetch while one was on its way
    this.fetchedAt = -Infinity;
    /** @type {number|null} the next fetch's timer, and when it is due (Date.now() ms) */
    this.timer = null;
    this.due = 0;
    /** @type {{acc: any, loss: any, key: string}|null} the uPlot charts and the series they were made for */
    this.charts = null;

    els.rows.addEventListener("change", (event) => {
      const box = /** @type {HTMLInputElement} */ (event.target);
      if (box.dataset.action === "compare") this.#tick(/** @type {string} */ (box.dataset.id), box.checked);
    });
    els.rows.addEventListener("click", (event) => {
      const button = /** @type {HTMLElement} */ (event.target).closest("button[data-action]");
      if (!(button instanceof HTMLButtonElement)) return;
      const run = this.runs.find((r) => r.id === button.dataset.id);
      if (run && button.dataset.action === "resume") this.#resume(run);
      if (run && button.dataset.action === "delete") this.#delete(run);
    });
    els.upload.addEventListener("change", () => {
      const file = els.upload.files && els.upload.files[0];
      if (file) this.#upload(file);
    });
    els.details.addEventListener("toggle", () => this.#shown());
    document.addEventListener("visibilitychange", () => this.#shown());
    new IntersectionObserver((entries) => {
      this.onScreen = entries[entries.length - 1].isIntersecting;
      this.#shown();
    }).observe(els.details);
    new ResizeObserver(() => this.#resize()).observe(els.acc.parentElement || els.acc);
    this.#fetch(); // on load, open or not: the count and any problem show in the summary line
  }

  /** @param {Set<string>} topics */
  update(topics) {
    const liveId = this.store.run ? this.store.run.run_id ?? null : null;
    if (topics.has("run") && liveId !== this.liveId) {
      this.liveId = liveId;
      this.#soon();
    } else if (topics.has("eval") || (topics.has("connection") && this.store.connection.state === "open")) {
      this.#soon();
    }
  }

  get #visible() {
    return this.els.details.open && this.onScreen && document.visibilityState === "visible";
  }

  // -- when to fetch -----------------------------------------------------------------------------

  /** Something changed on the server: fetch now if the panel shows, else when it does. */
  #soon() {
    this.stale = true;
    if (this.#visible) this.#schedule(0);
  }

  /** The panel was opened or closed, scrolled into or out of view, or the tab hidden or shown. */
  #shown() {
    if (!this.#visible) {
      clearTimeout(this.timer ?? undefined);
      this.timer = null;
      return;
    }
    this.#schedule(this.stale ? 0 : this.fetchedAt + PERIOD - Date.now());
    if (!this.stale) this.#draw(); // curves fetched while closed are drawn now
  }

  /** Fetch in `delay` ms, or earlier if already due; never sooner than MIN_GAP after the last. */
  #schedule(delay) {
    const due = Math.max(Date.now() + Math.max(0, delay), this.fetchedAt + MIN_GAP);
    if (this.timer !== null && this.due <= due) return;
    clearTimeout(this.timer ?? undefined);
    this.due = due;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.#fetch();
    }, due - Date.now());
  }

  /** The list, then the curves of the compared runs that changed (only while the panel shows). */
  async #fetch() {
    if (this.fetching) {
      this.again = true;
      return;
    }
    this.fetching = true;
    this.fetchedAt = Date.now();
    const visible = this.#visible;
    const result = await api.listRuns();
    if (result.ok && result.body && Array.isArray(result.body.runs)) {
      this.#adopt(result.body.runs, result.body.problem ?? null);
      if (visible) await this.#loadHistories();
      this.stale = !visible;
    } else if (result.status !== 0) {
      showMessage(this.els.msg, "error", `The runs could not be listed: ${result.message}`);
    }
    this.fetching = false;
    this.#render();
    if (visible) this.#draw();
    if (this.again) {
      this.again = false;
      this.#schedule(0);
    } else if (this.#visible) {
      this.#schedule(PERIOD);
    }
  }

  /** @param {RunSummary[]} runs @param {string|null} problem */
  #adopt(runs, problem) {
    this.runs = runs;
    this.problem = problem;
    const ids = new Set(runs.map((r) => r.id));
    for (const id of [...this.compared.keys()]) if (!ids.has(id)) this.compared.delete(id);
    for (const id of [...this.histories.keys()]) if (!this.compared.has(id)) this.histories.delete(id);
    const live = runs.find((r) => r.live);
    if (live && live.id !== this.liveTicked) {
      this.liveTicked = live.id;
      this.#compare(live.id);
    }
  }

  /** Fetch the curves of compared runs that are new or changed since (`updated` moved). */
  async #loadHistories() {
    const wanted = this.runs.filter((r) => this.compared.has(r.id)
      && (!this.histories.has(r.id) || /** @type {History} */ (this.histories.get(r.id)).updated !== r.updated));
    await Promise.all(wanted.map(async (run) => {
      const result = await api.runHistory(run.id, POINTS);
      if (result.ok && result.body) {
        this.histories.set(run.id, { updated: run.updated, train: result.body.train || [], test: result.body.test || [] });
      }
    }));
  }

  /** @param {string} id */
  #compare(id) {
    if (this.compared.has(id) || this.compared.size >= PALETTE.length) return;
    const used = new Set(this.compared.values());
    this.compared.set(id, /** @type {string} */ (PALETTE.find((c) => !used.has(c))));
  }

  /** A compare box was ticked or unticked. @param {string} id @param {boolean} on */
  async #tick(id, on) {
    if (on) this.#compare(id);
    else this.compared.delete(id);
    this.#render();
    await this.#loadHistories();
    this.#draw();
  }

  // -- the owner's commands ----------------------------------------------------------------------

  /** @param {RunSummary} run */
  async #resume(run) {
    this.busy = true;
    this.#render();
    showMessage(this.els.msg, "pending", `resuming ${label(run)}…`);
    const result = await api.resumeRun(run.id);
    this.busy = false;
    adoptRun(this.store, result);
    showMessage(this.els.msg, result.ok ? "ok" : "error", result.ok
      ? `Resumed ${label(run)} from step ${run.checkpoint_step}.` : `Not resumed: ${result.message || "refused"}`);
    this.#soon();
    this.#render();
  }

  /** The first click asks for a second one; the second deletes. @param {RunSummary} run */
  async #delete(run) {
    clearTimeout(this.confirmTimer);
    if (this.confirming !== run.id) {
      this.confirming = run.id;
      this.confirmTimer = setTimeout(() => {
        this.confirming = null;
        this.#render();
      }, CONFIRM_MS);
      this.#render();
      return;
    }
    this.confirming = null;
    this.busy = true;
    this.#render();
    showMessage(this.els.msg, "pending", `deleting ${label(run)}…`);
    const result = await api.deleteRun(run.id);
    this.busy = false;
    showMessage(this.els.msg, result.ok ? "ok" : "error", result.ok
      ? `Deleted ${label(run)}: its curves and its checkpoint.` : `Not deleted: ${result.message || "refused"}`);
    if (result.ok) {
      this.compared.delete(run.id);
      this.runs = this.runs.filter((r) => r.id !== run.id);
      this.#draw();
    }
    this.#soon();
    this.#render();
  }

  /** @param {File} file */
  async #upload(file) {
    const name = runName(file.name);
    this.busy = true;
    this.#render();
    showMessage(this.els.msg, "pending", `uploading ${file.name}…`);
    const result = await api.uploadCheckpoint(file, name);
    this.els.upload.value = ""; // the same file may be chosen again
    this.busy = false;
    adoptRun(this.store, result);
    showMessage(this.els.msg, result.ok ? "ok" : "error", result.ok
      ? `Uploaded ${file.name}: now training it as "${name}".` : `Not uploaded: ${result.message || "refused"}`);
    this.#soon();
    this.#render();
  }

  // -- drawing -----------------------------------------------------------------------------------

  #render() {
    const { count, problem, rows } = this.els;
    const live = this.runs.find((r) => r.live);
    count.textContent = this.runs.length
      ? `${this.runs.length} ${this.runs.length === 1 ? "run" : "runs"}${live ? `; live: ${live.name}` : ""}` : "";
    count.dataset.problem = String(Boolean(this.problem));
    problem.hidden = !this.problem;
    problem.textContent = this.problem || "";
    // a refresh must not take the keyboard focus away
    const focused = /** @type {HTMLElement|null} */ (rows.contains(document.activeElement) ? document.activeElement : null);
    const focusKey = focused ? `${focused.dataset.action}:${focused.dataset.id}` : null;
    if (!this.runs.length) {
      rows.replaceChildren(h("tr", {}, h("td", { class: "empty", text: "no runs kept yet", attrs: { colspan: "8" } })));
      return;
    }
    rows.replaceChildren(...this.runs.map((run) => this.#row(run)));
    if (focusKey) {
      const again = [...rows.querySelectorAll("[data-action]")].find(
        (el) => `${/** @type {HTMLElement} */ (el).dataset.action}:${/** @type {HTMLElement} */ (el).dataset.id}` === focusKey);
      if (again) /** @type {HTMLElement} */ (again).focus();
    }
  }

  /** @param {RunSummary} run */
  #row(run) {
    const colour = this.compared.get(run.id);
    const box = /** @type {HTMLInputElement} */ (h("input", { dataset: { action: "compare", id: run.id },
      attrs: { type: "checkbox", "aria-label": `compare ${label(run)}` } }));
    box.checked = Boolean(colour);
    box.disabled = !colour && this.compared.size >= PALETTE.length;
    if (box.disabled) box.title = `at most ${PALETTE.length} runs at once`;
    const swatch = h("span", { class: "run-swatch", attrs: { "aria-hidden": "true" } });
    if (colour) swatch.style.background = colour;
    const actions = h("td", { class: "run-actions owner-only" });
    if (!run.live && run.checkpoint_step !== null) {
      actions.append(h("button", { text: "Resume", dataset: { action: "resume", id: run.id },
        title: `go on training it from step ${run.checkpoint_step}; the live run is checkpointed first`,
        attrs: { type: "button", ...(this.busy ? { disabled: "" } : {}) } }));
    }
    if (!run.live) {
      const confirming = this.confirming === run.id;
      actions.append(h("button", { class: "run-delete", text: confirming ? "Delete? Click again" : "Delete",
        dataset: { action: "delete", id: run.id, confirm: String(confirming) },
        title: "forget this run: its curves and its checkpoint",
        attrs: { type: "button", ...(this.busy ? { disabled: "" } : {}) } }));
    }
    return h("tr", { dataset: { id: run.id, live: String(run.live) } },
      h("td", { class: "run-compare" }, box, swatch),
      h("td", { class: "run-name", title: `run ${run.id}` }, run.name,
        run.live ? h("span", { class: "badge run-live", text: "live", title: "the run training now" }) : null),
      h("td", { text: started(run.created) }),
      h("td", { class: "num", text: `${formatCount(run.step)} steps, ${run.epoch.toFixed(1)} epochs` }),
      h("td", { class: "num", text: formatPercent(run.test_accuracy) }),
      h("td", { text: statusOf(run), title: run.live ? "" : `it was ${run.status} when it stopped` }),
      h("td", { text: run.checkpoint_step === null ? "no" : `from step ${formatCount(run.checkpoint_step)}` }),
      actions);
  }

  /** The compared runs' curves; the charts are made again when the set of runs changes. */
  #draw() {
    if (!this.els.details.open) return;
    const runs = this.runs.filter((r) => this.compared.has(r.id) && this.histories.has(r.id));
    const key = runs.map((r) => `${r.id}:${this.compared.get(r.id)}`).join(",");
    if (!this.charts || this.charts.key !== key) this.#makeCharts(runs, key);
    const charts = /** @type {{acc: any, loss: any}} */ (this.charts);
    if (!runs.length) {
      charts.acc.setData([[]]);
      charts.loss.setData([[]]);
      return;
    }
    const histories = runs.map((r) => /** @type {History} */ (this.histories.get(r.id)));
    charts.acc.setData(uPlot.join(histories.map((hst) => [hst.test.map((p) => p.epoch), hst.test.map((p) => p.accuracy)])));
    charts.loss.setData(uPlot.join(histories.map((hst) => [hst.train.map((p) => p.epoch),
      smooth(hst.train.map((p) => p.loss), LOSS_SMOOTHING)])));
  }

  /** @param {RunSummary[]} runs @param {string} key */
  #makeCharts(runs, key) {
    if (this.charts) {
      this.charts.acc.destroy();
      this.charts.loss.destroy();
    }
    const pct = (v) => formatPercent(v, 0);
    const make = (el, fmt, range, points) => new uPlot({
      width: Math.max(200, el.clientWidth),
      height: HEIGHT,
      series: [{ label: "epoch", value: (_u, v) => (v === null || v === undefined ? "-" : formatValue(v)) },
        ...runs.map((r) => series(label(r), /** @type {string} */ (this.compared.get(r.id)), { width: 2, points, fmt }))],
      axes: axes(fmt),
      scales: { x: { time: false }, y: { range: guard(range) } },
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
    }, [[], ...runs.map(() => [])], el);
    this.charts = {
      key,
      acc: make(this.els.acc, pct, (_u, min, max) => [Math.max(0, min - 0.05), Math.min(1, max + 0.05)], true),
      loss: make(this.els.loss, formatValue, (_u, min, max) => [Math.max(0, min - 0.05), max + 0.05], false),
    };
  }

  #resize() {
    if (!this.charts) return;
    for (const [chart, el] of [[this.charts.acc, this.els.acc], [this.charts.loss, this.els.loss]]) {
      const width = Math.max(200, el.clientWidth);
      if (el.clientWidth && width !== chart.width) chart.setSize({ width, height: HEIGHT });
    }
  }
}
