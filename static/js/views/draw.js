// Draw your own: a canvas the live network classifies as you draw (mouse, finger or pen), for
// small grayscale datasets such as MNIST and Fashion-MNIST. White strokes on black, as in MNIST;
// the server scales the drawing to the dataset's size and matches its polarity. Each drawing goes
// through the classify panel (ClassifyView.submit), so its verdict, saliency and layer maps show
// as an uploaded picture's do. "Noise" and "blank" are the classic inputs a network should be
// unsure about; "clear" only wipes the canvas.
//
// Throttled: one request in flight at most, none sooner than INTERVAL after the last one, and the
// newest drawing is always sent once the one in flight is answered, so the pen's last stroke is
// classified. A 429 waits out its Retry-After and then sends the newest drawing.

import { classBar } from "./classify.js";

/** @typedef {import('../socket.js').Store} Store */
/** @typedef {import('../api.js').ApiResult} ApiResult */

const MAX_SIDE = 64; // px: a grayscale dataset's images up to this side can be drawn
const CANVAS_SIDE = 280; // px: about this large, a whole multiple of the image's side
const BRUSH = 2.4 / 28; // the brush's width as a share of the image's side: MNIST's pen strokes
const INTERVAL = 300; // ms between two classifications while drawing: ~3 a second at most
const TOP = 3; // classes listed beside the canvas

/**
 * @typedef {object} DrawElements
 * @property {HTMLElement} root         the block, hidden for datasets it does not suit
 * @property {HTMLCanvasElement} canvas
 * @property {HTMLElement} size         where the image size is said
 * @property {HTMLButtonElement} clear
 * @property {HTMLButtonElement} noise
 * @property {HTMLButtonElement} blank
 * @property {HTMLElement} top          the drawing's top classes
 */

/**
 * Whether a dataset's images can be drawn here: grayscale, and small.
 * @param {{channels: number, height: number, width: number}|null|undefined} dataset
 */
export function drawable(dataset) {
  return !!dataset && dataset.channels === 1 && dataset.height <= MAX_SIDE && dataset.width <= MAX_SIDE;
}

export class DrawView {
  /**
   * @param {Store} store
   * @param {DrawElements} els
   * @param {(image: Blob) => Promise<ApiResult|null>} classify  shows the answer; resolves to it
   */
  constructor(store, els, classify) {
    this.store = store;
    this.els = els;
    this.classify = classify;
    this.image = { width: 0, height: 0 }; // the dataset's image size the canvas is made for
    this.scale = 1; // canvas pixels per image pixel
    /** @type {{x: number, y: number}|null} where the pen is, while it is down */
    this.pen = null;
    this.penId = -1;
    this.dirty = false; // the canvas changed since it was last sent
    this.inFlight = false;
    this.nextAt = 0; // performance.now() before which nothing is sent
    /** @type {number|null} */
    this.timer = null;
    /** @type {Blob|null} the drawing sent last; its answer is listed beside the canvas */
    this.sent = null;
    this.clears = 0; // how many times the canvas was cleared: a send begun before a clear is dropped

    const canvas = els.canvas;
    canvas.addEventListener("pointerdown", (event) => this.down(event));
    canvas.addEventListener("pointermove", (event) => this.move(event));
    for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) {
      canvas.addEventListener(type, (event) => this.up(/** @type {PointerEvent} */ (event)));
    }
    els.clear.addEventListener("click", () => this.clear());
    els.blank.addEventListener("click", () => { this.wipe(); this.changed(); });
    els.noise.addEventListener("click", () => { this.noise(); this.changed(); });
  }

  /** @param {Set<string>} topics */
  update(topics) {
    if (topics.has("run")) {
      const dataset = this.store.run && this.store.run.dataset;
      const fits = drawable(dataset);
      this.els.root.hidden = !fits;
      if (fits && (dataset.width !== this.image.width || dataset.height !== this.image.height)) {
        this.resize(dataset.width, dataset.height);
      }
    }
    if (topics.has("upload")) this.listTop();
  }

  /** Make the canvas a whole multiple of the image's size, and blank. */
  resize(width, height) {
    this.image = { width, height };
    this.scale = Math.max(1, Math.round(CANVAS_SIDE / Math.max(width, height)));
    this.els.canvas.width = width * this.scale;
    this.els.canvas.height = height * this.scale;
    this.els.size.textContent = `${width}×${height}`;
    this.clear();
  }

  /** @param {PointerEvent} event */
  down(event) {
    if (event.button !== 0 || this.pen) return; // the main button, or a touch or pen contact
    event.preventDefault();
    this.els.canvas.setPointerCapture(event.pointerId);
    this.penId = event.pointerId;
    this.pen = this.at(event);
    this.stroke(this.pen, this.pen);
  }

  /** @param {PointerEvent} event */
  move(event) {
    if (!this.pen || event.pointerId !== this.penId) return;
    // every sample since the last event, so quick strokes stay smooth
    const samples = typeof event.getCoalescedEvents === "function" ? event.getCoalescedEvents() : [];
    for (const sample of samples.length ? samples : [event]) {
      const point = this.at(sample);
      this.stroke(this.pen, point);
      this.pen = point;
    }
  }

  /** @param {PointerEvent} event */
  up(event) {
    if (!this.pen || event.pointerId !== this.penId) return;
    this.pen = null;
    this.penId = -1;
    this.schedule(); // the last stroke is sent, now or once the one in flight is answered
  }

  /** The pointer's place in canvas pixels (the canvas may be shown smaller than it is). */
  at(event) {
    const canvas = this.els.canvas;
    const box = canvas.getBoundingClientRect();
    return {
      x: (event.clientX - box.left) * (canvas.width / Math.max(1, box.width)),
      y: (event.clientY - box.top) * (canvas.height / Math.max(1, box.height)),
    };
  }

  /** A white line from `a` to `b`, or a dot where they are one point (a tap). */
  stroke(a, b) {
    const ctx = this.context();
    const width = BRUSH * Math.max(this.els.canvas.width, this.els.canvas.height);
    ctx.fillStyle = ctx.strokeStyle = "#fff";
    ctx.beginPath();
    if (a.x === b.x && a.y === b.y) { // a line of no length draws nothing, even with round caps
      ctx.arc(a.x, a.y, width / 2, 0, 2 * Math.PI);
      ctx.fill();
    } else {
      ctx.lineCap = "round";
      ctx.lineJoin = "round";
      ctx.lineWidth = width;
      ctx.moveTo(a.x, a.y);
      ctx.lineTo(b.x, b.y);
      ctx.stroke();
    }
    this.changed();
  }

  /** Black all over. */
  wipe() {
    const ctx = this.context();
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, this.els.canvas.width, this.els.canvas.height);
  }

  /** Every image pixel a random gray. */
  noise() {
    const { width, height } = this.image;
    const ctx = this.context();
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const v = Math.floor(Math.random() * 256);
        ctx.fillStyle = `rgb(${v}, ${v}, ${v})`;
        ctx.fillRect(x * this.scale, y * this.scale, this.scale, this.scale);
      }
    }
  }

  /** Wipe the canvas and send nothing (the answer in flight, if any, still shows). */
  clear() {
    this.wipe();
    this.dirty = false;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.sent = null;
    this.clears++;
    this.showBusy();
    this.listTop();
  }

  context() {
    return /** @type {CanvasRenderingContext2D} */ (this.els.canvas.getContext("2d"));
  }

  changed() {
    this.dirty = true;
    this.schedule();
  }

  /** Send the drawing as soon as the throttle allows, unless that is already arranged. */
  schedule() {
    if (this.dirty && !this.inFlight && this.timer === null) {
      const wait = Math.max(0, this.nextAt - performance.now());
      this.timer = setTimeout(() => {
        this.timer = null;
        this.send();
      }, wait);
    }
    this.showBusy();
  }

  /** aria-busy on the top classes while a drawing is waiting to be sent or answered. */
  showBusy() {
    const busy = this.dirty || this.inFlight || this.timer !== null;
    this.els.top.setAttribute("aria-busy", String(busy));
  }

  async send() {
    if (!this.dirty || this.inFlight) return;
    this.dirty = false;
    this.inFlight = true;
    const clears = this.clears;
    try {
      const image = await new Promise((resolve) => this.els.canvas.toBlob(resolve, "image/png"));
      if (!image || clears !== this.clears) return; // cleared while it was encoded: send nothing
      this.sent = image;
      this.nextAt = performance.now() + INTERVAL;
      const answer = await this.classify(image);
      if (answer && answer.status === 429) {
        // the server's rate limit: try again when it allows, with the drawing as it is then
        if (this.sent === image) this.dirty = true; // (unless it was cleared meanwhile)
        this.nextAt = performance.now() + 1000 * (answer.retryAfter || 1);
      }
    } finally {
      this.inFlight = false;
      this.schedule();
    }
  }

  /** The top classes of the drawing sent last, once it is answered. */
  listTop() {
    const upload = this.store.upload;
    const mine = !!upload && !!this.sent && upload.file === this.sent;
    if (!mine) {
      this.els.top.replaceChildren();
      return;
    }
    this.els.top.replaceChildren(...upload.result.top.slice(0, TOP)
      .map((item, rank) => classBar(item.class, item.p, rank === 0)));
  }
}
