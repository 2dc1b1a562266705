// Classify your own image: drop a file, pick one, paste one or take a photo (a phone's camera, through
// a file input with `capture`: it works over plain http too, where getUserMedia does not), and see
// the live network's verdict (a bar per class), the small square it saw (cut from the centre of the
// picture, outlined on it), where the evidence is (Grad-CAM and the input gradient laid over that
// square), and the nearest training images in the network's feature space. The layer view then
// shows the image's maps until "Back to the probe image" (or another probe image is chosen).
//
// Only what is on screen is computed: an upload asks the server for the prediction and for the
// parts whose views are on screen (Grad-CAM, the input gradient, the neighbours, the layer view's
// maps: `parts`, docs/protocol.md); a view that comes on screen later (the layer view scrolled to,
// "Show its layers below") fetches its part then, from the upload the server keeps
// (GET /api/classify/{id}: no new upload, none of the viewer's classifications spent).

import * as api from "../api.js";
import { h } from "../dom.js";
import { formatPercent } from "../format.js";
import { decodeProbe, ProbeDecodeError } from "../probe.js";

/** @typedef {import('../socket.js').Store} Store */

const TYPES = ["image/jpeg", "image/png", "image/webp", "image/gif", "image/bmp"];
const PARTS = ["gradcam", "gradient", "neighbours", "frame"]; // what an answer may carry besides the prediction
const RETRY = 2; // s before a part whose fetch failed (the server busy) is asked for again, if still on screen
const VIEW = 160; // px: the side of the drawn image the network saw
const ORIGINAL = { width: 220, height: 160 }; // px: the box the uploaded picture is fitted into
// black -> red -> orange -> pale yellow; the alpha grows with the value, so weak evidence stays clear
const HEAT = [[0, 0, 0], [150, 0, 0], [235, 60, 0], [255, 175, 0], [255, 255, 150]];

/**
 * @typedef {object} ClassifyElements
 * @property {HTMLElement} drop         the drop zone
 * @property {HTMLInputElement} file    the file picker
 * @property {HTMLInputElement} camera  the camera (a file input with capture; a phone opens its camera)
 * @property {HTMLElement} msg          status line
 * @property {HTMLElement} result       the result block (hidden until the first answer)
 * @property {HTMLCanvasElement} original
 * @property {HTMLElement} cropNote
 * @property {HTMLCanvasElement} input
 * @property {HTMLCanvasElement} gradcam
 * @property {HTMLElement} gradcamNote
 * @property {HTMLCanvasElement} gradient
 * @property {HTMLElement} bars
 * @property {HTMLElement} neighbours
 * @property {HTMLButtonElement} showLayers   "show its layers" (when the probe is shown)
 * @property {HTMLElement} source       the layer view's "showing your image" bar
 * @property {HTMLElement} sourceText
 * @property {HTMLButtonElement} back   back to the probe image
 * @property {HTMLElement} layers       the layer view's maps (their part is fetched while on screen)
 */

export class ClassifyView {
  /** @param {Store} store @param {ClassifyElements} els */
  constructor(store, els) {
    this.store = store;
    this.els = els;
    this.token = 0; // the newest upload; older answers are dropped
    this.drawn = null; // the upload drawn last
    /** @type {number|null} the probe image when the upload was shown */
    this.probeAtUpload = null;
    this.stale = 0; // the token of an upload made under another network: nothing more is fetched for it
    this.retry = null; // timer of a fetch asked again
    /** @type {Record<string, Element>} each part's view: where it is drawn */
    this.views = {
      gradcam: els.gradcam, gradient: els.gradient, neighbours: els.neighbours.parentElement || els.neighbours,
      frame: els.layers, // the layer view's maps
    };
    // a view that comes on screen (scrolled to, or laid out anew) fetches its part then
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) this.fetchShowing();
    });
    for (const el of Object.values(this.views)) observer.observe(el);
    for (const input of [els.file, els.camera]) {
      input.addEventListener("change", () => {
        const file = input.files && input.files[0];
        if (file) this.submit(file);
        input.value = ""; // choosing the same file again classifies it again
      });
    }
    els.drop.addEventListener("dragover", (event) => {
      event.preventDefault();
      els.drop.dataset.drag = "true";
    });
    els.drop.addEventListener("dragleave", () => { delete els.drop.dataset.drag; });
    els.drop.addEventListener("drop", (event) => {
      event.preventDefault();
      delete els.drop.dataset.drag;
      const file = firstFile(event.dataTransfer);
      if (file) this.submit(file);
      else this.say("That was not a file: drop an image file (JPEG, PNG, WebP, GIF or BMP).", "error");
    });
    document.addEventListener("paste", (event) => {
      if (isEditable(event.target)) return; // pasting into a form field is not an upload
      const file = firstFile(event.clipboardData);
      if (!file) return;
      event.preventDefault();
      this.submit(file);
    });
    els.back.addEventListener("click", () => store.showProbe());
    els.showLayers.addEventListener("click", () => {
      const upload = store.upload;
      if (!upload) return;
      if (upload.frame) store.showUpload(upload);
      else if (!upload.asked.has("frame")) this.fetchParts(upload, ["frame"]);
    });
  }

  /**
   * The parts whose views are on screen now. Before the first answer the result block is hidden:
   * it is measured as it will be laid out, shown (unhidden for the measurement alone: nothing is
   * painted in between), since showing it moves what lies below it.
   */
  showing() {
    const result = this.els.result;
    const early = result.hidden;
    if (early) result.hidden = false;
    try {
      return PARTS.filter((part) => onScreen(this.views[part]));
    } finally {
      if (early) result.hidden = true;
    }
  }

  /** Fetch the parts of the shown upload whose views are on screen and that it does not have yet. */
  fetchShowing() {
    const upload = this.store.upload;
    if (!upload || upload.token === this.stale) return;
    const missing = this.showing().filter((part) => !upload.asked.has(part));
    if (missing.length) this.fetchParts(upload, missing);
  }

  /**
   * Fetch more parts of an upload (kept by the server; if it no longer is, the file is sent again)
   * and show them with it.
   * @param {import('../socket.js').Upload} upload  @param {string[]} parts
   */
  async fetchParts(upload, parts) {
    for (const part of parts) upload.asked.add(part);
    let answer = upload.result.id ? await api.classifyRest(upload.result.id, parts) : null;
    if (!answer || answer.status === 404) answer = await api.classify(upload.file, { parts });
    const now = this.store.upload;
    if (!now || now.token !== upload.token || upload.token === this.stale) return; // a newer upload, or network
    if (!answer.ok || !answer.body) {
      for (const part of parts) now.asked.delete(part);
      console.info(`convscope: the upload's ${parts.join(", ")} could not be fetched: ${answer.message}`);
      if ([0, 429, 503].includes(answer.status) && this.retry === null) { // busy: again in a moment
        this.retry = setTimeout(() => { this.retry = null; this.fetchShowing(); }, 1000 * (answer.retryAfter || RETRY));
      }
      return;
    }
    const more = answer.body;
    const result = { ...now.result, id: more.id, parts: [...new Set([...now.result.parts, ...more.parts])] };
    for (const part of parts) if (part !== "frame") result[part] = more[part];
    if (parts.includes("gradcam") || parts.includes("gradient")) result.explained = more.explained;
    const frame = parts.includes("frame") ? readFrame(more.frame) : now.frame;
    const merged = { ...now, result, frame };
    if (frame && !now.frame) this.store.showUpload(merged); // its maps arrived: the layer view shows them
    else this.store.updateUpload(merged);
  }

  /**
   * Send a file to the server and show its answer; resolves to the server's reply (null when a
   * newer upload overtook it).
   * @param {File|Blob} file
   * @param {{quiet?: boolean}} [options]  quiet: no "Classifying…" meanwhile (a drawing is sent
   *   a few times a second)
   * @returns {Promise<import('../api.js').ApiResult|null>}
   */
  async submit(file, { quiet = false } = {}) {
    const token = ++this.token;
    if (file.type && !TYPES.includes(file.type)) {
      // the server decides; this only warns early about what it will refuse anyway
      console.info(`convscope: uploading a file of type ${file.type}`);
    }
    if (!quiet) this.say("Classifying…", "busy");
    const answer = await api.classify(file, { parts: this.showing() });
    if (token !== this.token) return null;
    if (!answer.ok || !answer.body) {
      this.say(answer.message || `the server answered ${answer.status}`, "error");
      return answer;
    }
    const frame = readFrame(answer.body.frame);
    this.probeAtUpload = this.store.probe ? this.store.probe.index : null;
    this.store.showUpload({ result: answer.body, frame, file, token, asked: new Set(answer.body.parts) });
    this.fetchShowing(); // a view that came on screen while it was on its way
    return answer;
  }

  /** @param {Set<string>} topics */
  update(topics) {
    const store = this.store;
    if (topics.has("layers") && store.upload) this.stale = store.upload.token; // another network now
    if (topics.has("probe") && store.layerSource === "upload" && store.probe
        && store.probe.index !== this.probeAtUpload) {
      store.showProbe(); // another probe image was chosen: show it
      return;
    }
    if (!topics.has("upload")) return;
    const showing = store.layerSource === "upload" && !!store.upload;
    this.els.source.hidden = !showing;
    this.els.showLayers.hidden = showing || !store.upload || (!store.upload.frame && store.upload.token === this.stale);
    if (showing) {
      const r = store.upload.result;
      this.els.sourceText.textContent = `Showing your image (${r.top[0].class}, ` +
        `${formatPercent(r.top[0].p)}) as the network saw it at step ${(store.upload.frame && store.upload.frame.step) ?? r.step}, ` +
        "instead of the probe image.";
    }
    if (store.upload && store.upload !== this.drawn) {
      this.drawn = store.upload;
      this.render(store.upload);
    }
  }

  /** @param {string} text @param {"busy"|"ok"|"error"} state */
  say(text, state) {
    this.els.msg.textContent = text;
    this.els.msg.dataset.state = state;
  }

  /** @param {import('../socket.js').Upload} upload */
  async render(upload) {
    const r = upload.result;
    const els = this.els;
    els.result.hidden = false;
    const best = r.top[0];
    this.say(`${best.class}, ${formatPercent(best.p)} sure: the network at step ${r.step}` +
      ` (${Math.round(r.seconds * 1000)} ms on the server).`, "ok");
    this.bars(r);
    this.neighbours(r);
    const crop = r.image.crop;
    const notes = r.image.notes.filter((n) => !n.startsWith("the centre"));
    const data = this.store.run && this.store.run.dataset;
    const seen = data ? `${data.width}×${data.height}${data.channels === 1 ? " in gray" : ""}` : "the network's size";
    els.cropNote.textContent = (crop.width === crop.height
      ? `Your ${crop.width}×${crop.height} picture, scaled to ${seen}.`
      : `Your picture is ${crop.width}×${crop.height}: the network saw the centre ${crop.size}×${crop.size} ` +
        `square (outlined), scaled to ${seen}, so nothing is stretched.`) +
      (notes.length ? ` Also: ${notes.join("; ")}.` : "");
    els.gradcamNote.textContent = r.gradcam
      ? `Grad-CAM for “${r.explained}”: the last conv layer's maps, weighed by how much each raises that class.`
      : r.parts.includes("gradcam") ? "This network has no conv layer, so no Grad-CAM." : "Grad-CAM: on its way…";
    const image = await loadImage(r.input);
    if (upload !== this.drawn) return;
    drawPixels(els.input, image);
    drawOverlay(els.gradcam, image, r.gradcam);
    drawOverlay(els.gradient, image, r.gradient);
    await drawOriginal(els.original, upload.file, crop);
  }

  bars(r) {
    const classes = this.store.classes.length === r.probabilities.length
      ? this.store.classes : r.probabilities.map((_, i) => String(i));
    const order = r.probabilities.map((p, i) => [p, i]).sort((a, b) => b[0] - a[0]);
    this.els.bars.replaceChildren(...order.map(([p, i], rank) => classBar(classes[i], p, rank === 0)));
  }

  neighbours(r) {
    const near = r.neighbours;
    const root = this.els.neighbours;
    if (!near) {
      root.replaceChildren(h("p", { class: "empty", text: "On their way…" }));
      return;
    }
    if (!near.items.length) {
      root.replaceChildren(h("p", { class: "empty", text: near.note || "no neighbours" }));
      return;
    }
    const age = near.age < 90 ? `${Math.round(near.age)} s` : `${Math.round(near.age / 60)} min`;
    root.replaceChildren(
      h("p", { class: "caption", text: `The training images nearest to yours in the network's own feature space ` +
        `(what its last layer sees), by the network as it was at step ${near.step}, ${age} ago.` }),
      h("div", { class: "neighbour-list" }, ...near.items.map((item) =>
        h("figure", { class: "neighbour", dataset: { index: String(item.index) } },
          h("img", { class: "pixelated", attrs: { src: api.trainImageUrl(item.index), width: "64", height: "64",
            alt: `training image ${item.index}: ${item.label}` } }),
          h("figcaption", {}, h("span", { class: "truth", text: item.label }),
            h("span", { class: "similarity", text: item.similarity.toFixed(2), title: "cosine similarity" }))))));
  }
}

/**
 * One class's bar (a list item of a `class-bars` list), as the verdict shows it.
 * @param {string} label @param {number} p its probability @param {boolean} best the most likely
 */
export function classBar(label, p, best) {
  const fill = h("span", { class: "bar-fill" });
  fill.style.width = `${(100 * p).toFixed(1)}%`;
  return h("li", { class: "bar", dataset: { best: String(best) } },
    h("span", { class: "bar-label", text: label }),
    h("span", { class: "bar-track" }, fill),
    h("span", { class: "bar-value", text: formatPercent(p) }));
}

/** The first image file in a drop or a paste. @param {DataTransfer|null} data */
function firstFile(data) {
  if (!data) return null;
  for (const file of data.files || []) return file;
  for (const item of data.items || []) {
    if (item.kind === "file") return item.getAsFile();
  }
  return null;
}

/** @param {EventTarget|null} target */
function isEditable(target) {
  const el = /** @type {HTMLElement|null} */ (target);
  return !!el && (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName));
}

/** Whether any of an element is inside the window now. @param {Element} el */
function onScreen(el) {
  const r = el.getBoundingClientRect();
  return r.width + r.height > 0 && r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth;
}

/** An answer's `frame` (base64 of a probe frame) decoded; null when there is none or it cannot be read. */
function readFrame(text) {
  if (!text) return null;
  try {
    return decodeProbe(base64ToBuffer(text));
  } catch (err) {
    if (!(err instanceof ProbeDecodeError)) throw err;
    console.warn("convscope: the upload's layer maps could not be read:", err.message);
    return null;
  }
}

/** @param {string} text */
function base64ToBuffer(text) {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes.buffer;
}

/** @param {string} src */
async function loadImage(src) {
  const image = new Image();
  image.src = src;
  await image.decode();
  return image;
}

/** The image the network saw, scaled up with crisp pixels. */
function drawPixels(canvas, image) {
  canvas.width = canvas.height = VIEW;
  const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(image, 0, 0, VIEW, VIEW);
}

/** The image with a saliency map laid over it (smoothly scaled: the maps are coarse). */
function drawOverlay(canvas, image, map) {
  drawPixels(canvas, image);
  if (!map) return;
  const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));
  ctx.fillStyle = "rgba(0, 0, 0, 0.35)"; // dim the picture so the heat stands out
  ctx.fillRect(0, 0, VIEW, VIEW);
  const heat = document.createElement("canvas");
  heat.width = map.width;
  heat.height = map.height;
  const hctx = /** @type {CanvasRenderingContext2D} */ (heat.getContext("2d"));
  const pixels = hctx.createImageData(map.width, map.height);
  const values = atob(map.data);
  for (let i = 0; i < values.length; i++) {
    const v = values.charCodeAt(i) / 255;
    const [r, g, b] = interpolate(HEAT, v);
    pixels.data.set([r, g, b, Math.round(255 * Math.min(1, 0.15 + 0.85 * v))], 4 * i);
  }
  hctx.putImageData(pixels, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(heat, 0, 0, VIEW, VIEW);
}

function interpolate(stops, t) {
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  return stops[i].map((a, c) => Math.round(a + (stops[i + 1][c] - a) * f));
}

/** The uploaded picture, fitted into ORIGINAL, with the square the network saw outlined. */
async function drawOriginal(canvas, file, crop) {
  let bitmap;
  try {
    bitmap = await createImageBitmap(file); // upright by its EXIF orientation, as the server did
  } catch {
    canvas.hidden = true; // a format this browser cannot draw: the crop the network saw still shows
    return;
  }
  canvas.hidden = false;
  const scale = Math.min(ORIGINAL.width / bitmap.width, ORIGINAL.height / bitmap.height);
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));
  ctx.imageSmoothingEnabled = scale < 1;
  ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  // the crop is in the picture's own pixels; map it onto the canvas
  const sx = canvas.width / crop.width;
  const sy = canvas.height / crop.height;
  const x = crop.left * sx;
  const y = crop.top * sy;
  const w = crop.size * sx;
  const hgt = crop.size * sy;
  ctx.fillStyle = "rgba(0, 0, 0, 0.45)";
  ctx.fillRect(0, 0, canvas.width, y);
  ctx.fillRect(0, y + hgt, canvas.width, canvas.height - y - hgt);
  ctx.fillRect(0, y, x, hgt);
  ctx.fillRect(x + w, y, canvas.width - x - w, hgt);
  ctx.strokeStyle = "#2563eb";
  ctx.lineWidth = 2;
  ctx.strokeRect(x + 1, y + 1, Math.max(0, w - 2), Math.max(0, hgt - 2));
}
