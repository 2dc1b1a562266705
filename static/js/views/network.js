// The network, layer by layer: for every top-level layer its type, output shape, parameters and
// multiply-accumulates, and the latest probe frame's activation maps, activation gradients,
// filters and filter gradients drawn as crisp mosaics. Hovering a pixel reads out its real value.

import { h } from "../dom.js";
import { formatCount, formatShape, formatValue } from "../format.js";
import { blobsByLayer } from "../probe.js";
import { drawColorBar, drawMosaic, hitTest, layoutMosaic, realValue } from "../tiles.js";

/** @typedef {import('../types.js').LayerRow} LayerRow */
/** @typedef {import('../types.js').Blob} Blob */
/** @typedef {import('../socket.js').Store} Store */

/** One line per layer type, for people who have not met it yet. */
export const LAYER_NOTES = {
  input: "The image itself: its red, green and blue channels (one gray channel for MNIST-like data).",
  conv: "Slides small learned filters over its input; each filter makes one output channel.",
  relu: "Keeps positive values and sets negatives to zero.",
  gelu: "A smooth relu: small negatives pass, large ones go to zero.",
  sigmoid: "Squashes every value into 0..1.",
  tanh: "Squashes every value into -1..1.",
  pool: "Keeps the largest (or mean) value of each window: smaller maps, same channels.",
  avgpool: "Keeps the mean of each window: smaller maps, same channels.",
  maxpool: "Keeps the largest value of each window: smaller maps, same channels.",
  globalpool: "Averages each channel down to one number.",
  batchnorm: "Rescales each channel to a steady mean and spread, which makes training easier.",
  dropout: "While training, zeroes random values so that no unit is relied on alone.",
  flatten: "Lays the maps out as one long vector.",
  fc: "Fully connected: every output is a weighted sum of all inputs.",
  linear: "Fully connected: every output is a weighted sum of all inputs.",
  softmax: "Turns the class scores into probabilities that add up to 1.",
  inception: "Parallel 1×1, 3×3, 5×5 and pooling branches, stacked channel-wise.",
  residual: "Adds the block's input to its output: a short path for the gradient.",
  nin: "A conv followed by 1×1 convs: a small network at every position.",
};

const KINDS = [
  { kind: "input", title: "Image", target: 96 },
  { kind: "activation", title: "Activations", target: 0 },
  { kind: "activation_grad", title: "Activation gradients", target: 0, option: "grads" },
  { kind: "filter", title: "Filters", target: 0, option: "filters" },
  { kind: "filter_grad", title: "Filter gradients", target: 0, option: "filterGrads" },
];
const INFO_WIDTH = 210; // px: the layer's text column

export class NetworkView {
  /**
   * @param {Store} store
   * @param {{root: HTMLElement, summary: HTMLElement, grads: HTMLInputElement,
   *          filters: HTMLInputElement, filterGrads: HTMLInputElement}} els
   * @param {() => void} invalidate   ask for a redraw on the next frame
   */
  constructor(store, els, invalidate) {
    this.store = store;
    this.els = els;
    this.options = { grads: true, filters: true, filterGrads: false };
    /** @type {Map<number, {article: HTMLElement, blobs: HTMLElement, empty: HTMLElement, figures: Map<string, any>}>} */
    this.rows = new Map();
    this.width = els.root.clientWidth;
    /** @type {WeakMap<HTMLCanvasElement, {blob: Blob, mosaic: any, layer: LayerRow, vector: boolean}>} */
    this.drawn = new WeakMap();
    this.dirtyOptions = false;
    /** @type {any} the frame drawn last (the probe's or an upload's) */
    this.drawnFrame = null;
    for (const [key, input] of [["grads", els.grads], ["filters", els.filters], ["filterGrads", els.filterGrads]]) {
      this.options[key] = input.checked;
      input.addEventListener("change", () => {
        this.options[key] = input.checked;
        this.dirtyOptions = true;
        invalidate();
      });
    }
    new ResizeObserver(() => {
      const width = els.root.clientWidth;
      if (width !== this.width) {
        this.width = width;
        this.dirtyOptions = true;
        invalidate();
      }
    }).observe(els.root);
  }

  /** @param {Set<string>} topics */
  update(topics) {
    if (topics.has("layers")) this.build();
    if (topics.has("layers") || topics.has("frame") || topics.has("presets") || this.dirtyOptions) {
      if (topics.has("frame") && !topics.has("layers") && !this.dirtyOptions && this.store.layerSource === "upload"
          && this.drawnFrame === this.store.shownFrame) return; // a new probe frame while the upload is shown
      this.drawnFrame = this.store.shownFrame;
      this.draw();
      this.dirtyOptions = false;
    }
  }

  build() {
    const { root, summary } = this.els;
    const layers = this.store.layers;
    const top = layers.filter((l) => (l.path ? l.path.length <= 1 : l.depth === 0));
    const inner = new Map();
    for (const l of layers) {
      if (l.path && l.path.length > 1) {
        if (!inner.has(l.path[0])) inner.set(l.path[0], []);
        inner.get(l.path[0]).push(l);
      }
    }
    root.replaceChildren();
    this.rows.clear();
    if (!top.length) {
      root.append(h("p", { class: "empty", text: "The layers appear here once the data is loaded and the model is built." }));
    }
    for (const layer of top) {
      const row = this.#row(layer, inner.get(layer.index) || []);
      this.rows.set(layer.index, row);
      root.append(row.article);
    }
    const params = top.reduce((s, l) => s + (l.params || 0), 0);
    const macs = top.reduce((s, l) => s + (l.macs || 0), 0);
    summary.textContent = top.length
      ? `${this.store.run ? this.store.run.model : ""}: ${top.length} layers, ` +
        `${formatCount(params)} parameters, ${formatCount(macs)} multiply-adds per image`
      : "";
  }

  /** @param {LayerRow} layer @param {LayerRow[]} children */
  #row(layer, children) {
    const note = LAYER_NOTES[layer.type] || "";
    const stats = h("dl", { class: "layer-stats" },
      h("dt", { text: "output" }), h("dd", { text: formatShape(layer.output_shape) }),
      h("dt", { text: "params" }), h("dd", { text: formatCount(layer.params), title: String(layer.params) }),
      h("dt", { text: "MACs", title: "multiply-accumulates for one image" }),
      h("dd", { text: formatCount(layer.macs), title: String(layer.macs) }));
    const info = h("div", { class: "layer-info" },
      h("div", { class: "layer-title" },
        h("span", { class: "layer-index", text: String(layer.index) }),
        h("b", { class: "layer-name", text: layer.name || layer.type }),
        h("span", { class: "badge", dataset: { type: layer.type }, text: layer.type })),
      note ? h("p", { class: "layer-note", text: note }) : null,
      stats);
    if (children.length) {
      const list = h("ol", { class: "inner-layers" }, ...children.map((c) =>
        h("li", { dataset: { depth: String(c.path.length - 1) } },
          h("span", { class: "inner-name", text: `${c.name || c.type}` }),
          h("span", { class: "inner-shape", text: ` ${formatShape(c.output_shape)}` }),
          c.params ? h("span", { class: "inner-params", text: ` ${formatCount(c.params)} params` }) : null)));
      info.append(h("details", { class: "inner" }, h("summary", { text: `${children.length} layers inside` }), list));
    }
    const empty = h("p", { class: "blob-empty", text: "waiting for the first probe of this layer…" });
    const blobs = h("div", { class: "layer-blobs" }, empty);
    const article = h("article", { class: "layer", dataset: { index: String(layer.index), type: layer.type } },
      info, blobs);
    return { article, blobs, empty, figures: new Map(), layer };
  }

  draw() {
    const frame = this.store.shownFrame;
    const byLayer = frame ? blobsByLayer(frame) : new Map();
    const area = Math.max(160, this.width - INFO_WIDTH - 24);
    // the raw input image comes as layer -1: show it on the input layer's row (or the first row)
    const rows = [...this.rows.values()];
    const inputRow = rows.find((r) => r.layer.type === "input") || rows[0];
    for (const [index, row] of this.rows) {
      let blobs = byLayer.get(index) || new Map();
      if (row === inputRow && byLayer.has(-1)) blobs = new Map([...byLayer.get(-1), ...blobs]);
      let shown = 0;
      for (const spec of KINDS) {
        const blob = blobs.get(spec.kind);
        const visible = !!blob && (!spec.option || this.options[spec.option]);
        let fig = row.figures.get(spec.kind);
        if (!visible) {
          if (fig) fig.el.hidden = true;
          continue;
        }
        if (!fig) {
          fig = this.#figure(spec, row);
          row.figures.set(spec.kind, fig);
          // keep the figures in KINDS order
          const after = KINDS.slice(KINDS.indexOf(spec) + 1).map((k) => row.figures.get(k.kind)).find(Boolean);
          row.blobs.insertBefore(fig.el, after ? after.el : null);
        }
        fig.el.hidden = false;
        this.#drawBlob(fig, spec, /** @type {Blob} */ (blob), row.layer, area);
        shown += 1;
      }
      row.empty.hidden = shown > 0;
    }
  }

  #figure(spec, row) {
    const canvas = h("canvas", { class: "blob-canvas", attrs: { role: "img", "aria-label": `${spec.title} of ${row.layer.name || row.layer.type}` } });
    const bar = h("canvas", { class: "colorbar", attrs: { "aria-hidden": "true" } });
    const scale = h("div", { class: "blob-scale" });
    const min = h("span", { class: "range-min" });
    const max = h("span", { class: "range-max" });
    const count = h("span", { class: "blob-count" });
    const readout = h("span", { class: "readout" });
    const classBars = h("ol", { class: "class-bars" });
    classBars.hidden = true;
    const el = h("figure", { class: "blob", dataset: { kind: spec.kind } },
      h("figcaption", {}, h("span", { class: "blob-title", text: spec.title }), count),
      canvas, classBars, scale,
      readout);
    scale.append(min, bar, max);
    scale.hidden = spec.kind === "input"; // raw pixels: 0..255, nothing to explain
    canvas.addEventListener("mousemove", (event) => this.#hover(event, canvas, readout));
    canvas.addEventListener("mouseleave", () => { readout.textContent = ""; });
    return { el, canvas, bar, min, max, count, readout, classBars, lutKey: "" };
  }

  #drawBlob(fig, spec, blob, layer, area) {
    const vector = blob.height === 1 && blob.count === 1 && blob.width > 1;
    const classes = this.store.classes;
    const asBars = vector && spec.kind === "activation" && layer.type === "softmax" && classes.length === blob.width;
    fig.canvas.hidden = asBars;
    fig.classBars.hidden = !asBars;
    if (asBars) {
      this.#classBars(fig, blob, classes);
      return;
    }
    const drawable = vector
      ? { ...blob, count: blob.width, width: 1, height: 1 }
      : blob;
    const half = Math.floor((area - 16) / 2);
    const maxWidth = spec.kind === "input" ? area : Math.max(120, half);
    let target = spec.target;
    if (spec.kind.startsWith("filter")) target = blob.channels === 3 || blob.count <= 16 ? 40 : 24;
    if (vector) target = blob.width <= 16 ? 22 : blob.width <= 128 ? 12 : 7;
    else if (!target) target = blob.count <= 8 ? 80 : blob.count <= 16 ? 64 : blob.count <= 32 ? 48 : 40;
    const mosaic = layoutMosaic(drawable, maxWidth, target);
    drawMosaic(fig.canvas, drawable, mosaic);
    this.drawn.set(fig.canvas, { blob, mosaic, layer, vector });

    const total = layer.output_shape && layer.output_shape.length === 3 ? layer.output_shape[0] : null;
    if (spec.kind === "activation" || spec.kind === "activation_grad") {
      fig.count.textContent = vector ? `${blob.width} units`
        : total && total > blob.count ? `first ${blob.count} of ${total} channels` : `${blob.count} channels`;
    } else if (spec.kind === "input") {
      fig.count.textContent = `${blob.width}×${blob.height}`;
    } else {
      fig.count.textContent = this.#filterCount(blob, layer);
    }
    fig.min.textContent = formatValue(blob.min);
    fig.max.textContent = formatValue(blob.max);
    const colour = blob.channels === 1;
    fig.bar.hidden = !colour;
    if (colour) {
      const key = `${blob.min < 0 && blob.max > 0}:${blob.min}:${blob.max}`;
      if (key !== fig.lutKey) {
        drawColorBar(fig.bar, blob);
        fig.lutKey = key;
      }
    }
  }

  /** Channels going into a top-level layer: the previous layer's, or null if unknown. */
  #inputChannels(layer) {
    const prev = this.store.layers.find((l) => l.path.length === 1 && l.index === layer.index - 1);
    return prev && prev.output_shape.length === 3 ? prev.output_shape[0] : null;
  }

  /** "16 filters, in colour" or "first 64 of 320 (filter, input channel) pairs". */
  #filterCount(blob, layer) {
    const out = layer.output_shape && layer.output_shape.length === 3 ? layer.output_shape[0] : null;
    if (blob.channels === 3) {
      return out && out > blob.count ? `first ${blob.count} of ${out} filters, RGB` : `${blob.count} filters, RGB`;
    }
    const inputs = this.#inputChannels(layer);
    const pairs = out && inputs ? out * inputs : null;
    return pairs && pairs > blob.count
      ? `first ${blob.count} of ${pairs} (filter, input channel) slices`
      : `${blob.count} (filter, input channel) slices`;
  }

  /** The output layer as one labelled bar per class. */
  #classBars(fig, blob, classes) {
    const pixels = /** @type {Uint8Array} */ (blob.pixels);
    let values = Array.from(pixels, (v) => realValue(blob, v));
    const sum = values.reduce((a, b) => a + b, 0);
    if (blob.min < -1e-6 || blob.max > 1 + 1e-6 || Math.abs(sum - 1) > 0.05) {
      // scores (logits) rather than probabilities: softmax them here
      const top = Math.max(...values);
      const exps = values.map((v) => Math.exp(v - top));
      const total = exps.reduce((a, b) => a + b, 0);
      values = exps.map((e) => e / total);
    }
    const best = values.indexOf(Math.max(...values));
    const probe = this.store.layerSource === "probe" ? this.store.probe : null; // an upload has no true class
    const truth = probe && probe.label !== null && probe.label !== undefined ? String(probe.label) : null;
    if (fig.classBars.children.length !== classes.length) {
      fig.classBars.replaceChildren(...classes.map((name) => h("li", { class: "bar" },
        h("span", { class: "bar-label", text: name }),
        h("span", { class: "bar-track" }, h("span", { class: "bar-fill" })),
        h("span", { class: "bar-value" }))));
    }
    values.forEach((p, i) => {
      const li = /** @type {HTMLElement} */ (fig.classBars.children[i]);
      li.dataset.best = String(i === best);
      li.dataset.truth = String(classes[i] === truth);
      li.title = classes[i] === truth ? "the probe image's true class" : "";
      /** @type {HTMLElement} */ (li.querySelector(".bar-fill")).style.width = `${(100 * p).toFixed(1)}%`;
      /** @type {HTMLElement} */ (li.querySelector(".bar-value")).textContent = `${(100 * p).toFixed(1)}%`;
    });
    fig.count.textContent = "probability of each class";
    fig.min.textContent = "";
    fig.max.textContent = "";
    fig.bar.hidden = true;
  }

  #hover(event, canvas, readout) {
    const drawn = this.drawn.get(canvas);
    if (!drawn) return;
    const { blob, mosaic, vector, layer } = drawn;
    const rect = canvas.getBoundingClientRect();
    const drawable = vector ? { ...blob, count: blob.width, width: 1, height: 1 } : blob;
    const hit = hitTest(drawable, mosaic, event.clientX - rect.left, event.clientY - rect.top);
    if (!hit) {
      readout.textContent = "";
      return;
    }
    const pixels = /** @type {Uint8Array} */ (blob.pixels);
    const classes = this.store.classes;
    if (vector) {
      const name = classes.length === blob.width && isLast(layer, this.store.layers) ? ` (${classes[hit.tile]})` : "";
      readout.textContent = `unit ${hit.tile}${name}: ${formatValue(realValue(blob, pixels[hit.tile]))}`;
      return;
    }
    const at = ((hit.tile * blob.height + hit.y) * blob.width + hit.x) * blob.channels;
    const value = blob.channels === 1
      ? formatValue(realValue(blob, pixels[at]))
      : blob.kind === "input"
        ? `rgb ${pixels[at]}, ${pixels[at + 1]}, ${pixels[at + 2]}`
        : `rgb ${["r", "g", "b"].map((_, c) => formatValue(realValue(blob, pixels[at + c]))).join(", ")}`;
    let what = `channel ${hit.tile}`;
    if (blob.kind === "input") {
      what = "pixel";
    } else if (blob.kind.startsWith("filter")) {
      // tile k of a one-channel filter blob is filter k // in, input channel k % in
      const inputs = this.#inputChannels(layer);
      what = blob.channels === 3 || !inputs ? `filter ${hit.tile}`
        : `filter ${Math.floor(hit.tile / inputs)}, input channel ${hit.tile % inputs}`;
    }
    readout.textContent = `${what} (x ${hit.x}, y ${hit.y}): ${value}`;
  }
}

function isLast(layer, layers) {
  const top = layers.filter((l) => !l.path || l.path.length <= 1);
  return top.length > 0 && top.slice(-2).some((l) => l.index === layer.index);
}
