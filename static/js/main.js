// Entry point: builds the store, the views and the connection, and redraws at most once per
// animation frame. Messages only mark topics dirty; the frame callback hands each view the set
// of topics that changed since the last frame, so a burst of messages costs one redraw.

import { connect, Store } from "./socket.js";
import { AccessView } from "./views/access.js";
import { BannerView } from "./views/banner.js";
import { ChartsView } from "./views/charts.js";
import { ClassifyView } from "./views/classify.js";
import { ControlsView } from "./views/controls.js";
import { DrawView } from "./views/draw.js";
import { EditorView } from "./views/editor.js";
import { EvaluationView } from "./views/evaluation.js";
import { ModelsView } from "./views/models.js";
import { NetworkView } from "./views/network.js";
import { PredictionsView } from "./views/predictions.js";
import { ProbePickerView } from "./views/probepicker.js";
import { RunsView } from "./views/runs.js";

const $ = (id) => /** @type {any} */ (document.getElementById(id));

const store = new Store();
/** @type {Set<string>} */
let dirty = new Set();
let scheduled = false;

function invalidate() {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(render);
}

store.subscribe((topics) => {
  for (const t of topics) dirty.add(t);
  invalidate();
});

const socket = connect(store);

const classify = new ClassifyView(store, {
  drop: $("classify-drop"), file: $("classify-file"), camera: $("classify-camera"), msg: $("classify-msg"),
  result: $("classify-result"), original: $("classify-original"), cropNote: $("classify-crop-note"),
  input: $("classify-input"), gradcam: $("classify-gradcam"), gradcamNote: $("classify-gradcam-note"),
  gradient: $("classify-gradient"),
  bars: $("classify-bars"), neighbours: $("classify-neighbours"), showLayers: $("classify-show-layers"),
  source: $("net-source"), sourceText: $("net-source-text"), back: $("net-back"), layers: $("network"),
});

const views = [
  new BannerView(store, $("banners"), socket),
  new AccessView(store, { notice: $("access"), body: document.body, hyperForm: $("hyper-form") }),
  new ControlsView(store, document),
  new ModelsView(store, { list: $("model-list"), msg: $("model-msg") }),
  new ProbePickerView(store, {
    img: $("probe-img"), label: $("probe-label"), form: $("probe-form"), index: $("probe-index"),
    random: $("probe-random"), thumbs: $("probe-thumbs"), msg: $("probe-msg"),
  }),
  new ChartsView(store, {
    loss: $("chart-loss"), acc: $("chart-acc"), lr: $("chart-lr"), ips: $("chart-ips"),
    smoothing: $("smoothing"), smoothingValue: $("smoothing-value"),
  }, invalidate),
  new RunsView(store, {
    details: $("runs"), count: $("runs-count"), problem: $("runs-problem"), rows: $("runs-rows"),
    upload: $("runs-upload"), msg: $("runs-msg"), acc: $("runs-chart-acc"), loss: $("runs-chart-loss"),
  }),
  new PredictionsView(store, { root: $("predictions"), step: $("pred-step") }),
  new EvaluationView(store, { root: $("eval"), step: $("eval-step") }),
  new NetworkView(store, {
    root: $("network"), summary: $("net-summary"),
    grads: $("show-grads"), filters: $("show-filters"), filterGrads: $("show-filter-grads"),
  }, invalidate),
  new EditorView(store, $("editor")),
  classify,
  new DrawView(store, {
    root: $("draw"), canvas: $("draw-canvas"), size: $("draw-size"),
    clear: $("draw-clear"), noise: $("draw-noise"), blank: $("draw-blank"), top: $("draw-top"),
  }, (image) => classify.submit(image, { quiet: true })),
];

function render() {
  scheduled = false;
  const topics = dirty;
  dirty = new Set();
  for (const view of views) {
    try {
      view.update(topics);
    } catch (err) {
      // one broken view must not stop the others from drawing
      console.error(`convscope: ${view.constructor.name} failed to draw`, err);
    }
  }
}

// first paint: every view draws its empty state
for (const t of ["connection", "run", "layers", "presets", "probe", "metrics", "eval", "predictions", "frame", "error", "upload"]) {
  dirty.add(t);
}
invalidate();

// for tests and the console: the live state, read-only by convention
Object.defineProperty(window, "convscope", { value: { store, socket }, configurable: true });
