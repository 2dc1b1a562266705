// The live connection to /ws and the page's state built from it.
//
// `Store` holds everything the views draw; it changes only through `apply*` methods, each of which
// marks the topics it touched. `connect` keeps one websocket open, reconnecting with exponential
// backoff (0.5 s doubling to 10 s, with jitter) and resetting the backoff once a `hello` arrives.

import { decodeProbe, ProbeDecodeError } from "./probe.js";
import { BoundedSeries } from "./series.js";

/** @typedef {import('./types.js').RunState} RunState */
/** @typedef {import('./types.js').LayerRow} LayerRow */
/** @typedef {import('./types.js').EvalPoint} EvalPoint */
/** @typedef {import('./types.js').Preset} Preset */
/** @typedef {import('./types.js').Prediction} Prediction */
/** @typedef {import('./types.js').ProbeFrame} ProbeFrame */

export const PROTOCOL_VERSION = 1;
export const MAX_TRAIN_POINTS = 2000; // per chart series
export const MAX_EVAL_POINTS = 500;

/**
 * What a view may be told changed: connection, run, layers, presets, metrics, eval, probe,
 * frame, predictions, error, upload.
 * @typedef {string} Topic
 */

/**
 * An image the person classified (POST /api/classify) and its layer maps.
 * @typedef {object} Upload
 * @property {Record<string, any>} result   the server's ClassifyResult (docs/protocol.md), its parts so far
 * @property {ProbeFrame|null} frame        the decoded `result.frame` (null until asked for)
 * @property {File|Blob} file               what was uploaded, for drawing the original
 * @property {number} token                 which upload it is (the same as more of its parts arrive)
 * @property {Set<string>} asked            its parts received or on their way
 */

/**
 * @typedef {object} Connection
 * @property {"connecting"|"open"|"reconnecting"} state
 * @property {number} attempt       failed attempts since the last good connection
 * @property {number|null} retryAt  Date.now() of the next attempt while reconnecting
 * @property {boolean} everOpened
 */

export class Store {
  constructor() {
    /** @type {Connection} */
    this.connection = { state: "connecting", attempt: 0, retryAt: null, everOpened: false };
    /** @type {RunState|null} */
    this.run = null;
    /** @type {LayerRow[]} */
    this.layers = [];
    /** @type {string[]} */
    this.classes = [];
    /** @type {Preset[]} */
    this.presets = [];
    /** @type {{index: number, label: string|number|null}|null} */
    this.probe = null;
    this.train = new BoundedSeries(["loss", "accuracy", "lr", "images_per_second"], MAX_TRAIN_POINTS);
    /** @type {EvalPoint[]} */
    this.test = [];
    /** @type {EvalPoint|null} the latest evaluation, with its confusion matrix when sent */
    this.lastEval = null;
    /** @type {{step: number, items: Prediction[]}|null} */
    this.predictions = null;
    /** @type {ProbeFrame|null} */
    this.frame = null;
    /** @type {string|null} a server `error` message or a protocol problem, shown in a banner */
    this.error = null;
    /** @type {Upload|null} the last classified upload */
    this.upload = null;
    /** @type {"probe"|"upload"} what the layer view shows */
    this.layerSource = "probe";
    /** @type {Set<(topics: Set<Topic>) => void>} */
    this.listeners = new Set();
  }

  /** @param {(topics: Set<Topic>) => void} fn */
  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** @param {...Topic} topics */
  emit(...topics) {
    const set = new Set(topics);
    for (const fn of this.listeners) fn(set);
  }

  /** The frame the layer view draws: the upload's while it is chosen, else the live probe's. */
  get shownFrame() {
    return this.layerSource === "upload" && this.upload && this.upload.frame ? this.upload.frame : this.frame;
  }

  /** A classified upload; its maps replace the probe's in the layer view. @param {Upload} upload */
  showUpload(upload) {
    this.upload = upload;
    this.layerSource = upload.frame ? "upload" : "probe";
    this.emit("upload", "frame");
  }

  /** More parts of the shown upload (not its maps): the layer view keeps what it shows. @param {Upload} upload */
  updateUpload(upload) {
    this.upload = upload;
    this.emit("upload", "frame");
  }

  /** Back to the live probe in the layer view (the upload's result stays). */
  showProbe() {
    if (this.layerSource === "probe") return;
    this.layerSource = "probe";
    this.emit("upload", "frame");
  }

  /** @param {Partial<Connection>} change */
  setConnection(change) {
    Object.assign(this.connection, change);
    this.emit("connection");
  }

  /**
   * Apply one JSON message from the server.
   * @param {Record<string, any>} msg
   */
  applyMessage(msg) {
    switch (msg.type) {
      case "hello": return this.#hello(msg);
      case "state": {
        this.run = msg.run;
        const topics = ["run"];
        if (this.#probeFromRun()) topics.push("probe");
        return this.emit(...topics);
      }
      case "metrics": return this.#metrics(msg.points || []);
      case "eval": return this.#eval(msg);
      case "model":
        this.layers = msg.layers || [];
        if (this.run) this.run = { ...this.run, model: msg.name, run_id: msg.run_id ?? this.run.run_id };
        this.#clearHistory();
        this.frame = null;
        this.layerSource = "probe"; // the upload's maps belong to the old network
        return this.emit("layers", "metrics", "eval", "frame", "run", "upload");
      case "predictions":
        this.predictions = { step: msg.step, items: msg.items || [] };
        return this.emit("predictions");
      case "probe":
        // probe choice announced as JSON (a server may do this after POST /api/run/probe)
        if (msg.index !== undefined) this.probe = { index: msg.index, label: msg.label ?? null };
        return this.emit("probe");
      case "error":
        this.error = msg.message || "the server reported an error";
        return this.emit("error");
      default:
        return; // unknown types are ignored: newer servers may send more
    }
  }

  /** @param {ProbeFrame} frame */
  applyFrame(frame) {
    this.frame = frame;
    const topics = ["frame"];
    if (frame.image && frame.image.source === "test" && typeof frame.image.index === "number"
        && (!this.probe || this.probe.index !== frame.image.index)) {
      this.probe = { index: frame.image.index, label: null };
      topics.push("probe");
    }
    this.emit(...topics);
  }

  #hello(msg) {
    if (msg.protocol_version !== PROTOCOL_VERSION) {
      this.error = `This page speaks protocol ${PROTOCOL_VERSION} but the server speaks ` +
        `${msg.protocol_version}: reload the page (Ctrl+Shift+R) to get the matching page.`;
    } else if (this.error && this.error.startsWith("This page speaks protocol")) {
      this.error = null;
    }
    this.run = msg.run || null;
    this.layers = msg.layers || [];
    this.classes = msg.classes || [];
    this.presets = msg.presets || [];
    this.probe = msg.probe || null;
    this.#probeFromRun();
    this.#clearHistory();
    const history = msg.history || {};
    this.#metrics(history.train || [], false);
    for (const point of history.test || []) this.#eval(point, false);
    this.predictions = null;
    this.frame = null;
    this.layerSource = "probe";
    this.emit("run", "layers", "presets", "probe", "metrics", "eval", "predictions", "frame", "error", "upload");
  }

  /** The run state names the probe image too; true when that changed ours. */
  #probeFromRun() {
    const probe = this.run && this.run.probe;
    if (!probe || typeof probe.index !== "number") return false;
    if (this.probe && this.probe.index === probe.index && this.probe.label === probe.label) return false;
    this.probe = { index: probe.index, label: probe.label ?? null };
    return true;
  }

  #clearHistory() {
    this.train.clear();
    this.test = [];
    this.lastEval = null;
  }

  #metrics(points, notify = true) {
    for (const p of points) {
      if (p.step <= this.train.lastX) this.#clearHistory(); // a reset without a model message
      this.train.push(p);
    }
    if (notify && points.length) this.emit("metrics");
  }

  #eval(point, notify = true) {
    const last = this.test[this.test.length - 1];
    if (last && point.step < last.step) this.test = [];
    const { type: _type, confusion: _confusion, ...row } = point;
    this.test.push(row);
    if (this.test.length > MAX_EVAL_POINTS) this.test.splice(0, this.test.length - MAX_EVAL_POINTS);
    this.lastEval = point;
    if (notify) this.emit("eval");
  }
}

/**
 * Keep a websocket to `url` open, feeding `store`. Returns a handle: `retryNow()` skips the wait
 * before the next attempt, `drop()` closes the connection as a network failure would (the
 * reconnect logic takes over; the browser tests use it), `close()` ends it for good.
 * @param {Store} store
 * @param {string} [url]
 */
export function connect(store, url = defaultUrl()) {
  let ws = null;
  let timer = null;
  let closed = false;

  function open() {
    clearTimeout(timer);
    timer = null;
    store.setConnection({ state: store.connection.everOpened ? "reconnecting" : "connecting", retryAt: null });
    ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    ws.addEventListener("message", (event) => {
      if (typeof event.data === "string") {
        let msg;
        try {
          msg = JSON.parse(event.data);
        } catch (err) {
          console.warn("convscope: ignoring a text frame that is not JSON", err);
          return;
        }
        if (msg.type === "hello") {
          store.setConnection({ state: "open", attempt: 0, retryAt: null, everOpened: true });
        }
        store.applyMessage(msg);
      } else {
        try {
          store.applyFrame(decodeProbe(event.data));
        } catch (err) {
          if (!(err instanceof ProbeDecodeError)) throw err;
          console.warn("convscope: dropped a probe frame:", err.message);
        }
      }
    });
    ws.addEventListener("close", () => {
      ws = null;
      if (closed) return;
      const attempt = store.connection.attempt + 1;
      const delay = backoff(attempt);
      store.setConnection({ state: store.connection.everOpened ? "reconnecting" : "connecting",
        attempt, retryAt: Date.now() + delay });
      timer = setTimeout(open, delay);
    });
    // "error" is always followed by "close"; the browser already logs why.
  }

  open();
  return {
    retryNow() {
      if (!ws && !closed) open();
    },
    drop() {
      if (ws) ws.close(4000, "dropped by the page");
    },
    close() {
      closed = true;
      clearTimeout(timer);
      if (ws) ws.close();
    },
  };
}

/** Milliseconds to wait before attempt `n` (1-based): 0.5 s doubling to 10 s, +-20% jitter. */
export function backoff(n) {
  const base = Math.min(10_000, 500 * 2 ** (n - 1));
  return Math.round(base * (0.8 + 0.4 * Math.random()));
}

function defaultUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}
