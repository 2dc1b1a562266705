// Live training charts (uPlot): loss, accuracy, learning rate and speed against the step.
// Train curves come from the bounded series in the store (at most MAX_TRAIN_POINTS points each);
// the smoothed curve is a debiased moving average whose weight the smoothing slider sets.

import uPlot from "../../vendor/uplot/uPlot.esm.js";
import { formatPercent, formatValue, formatCount } from "../format.js";
import { smooth } from "../series.js";

/** @typedef {import('../socket.js').Store} Store */

const COLORS = {
  raw: "rgba(37, 99, 235, 0.25)",
  train: "#2563eb",
  test: "#dc2626",
  lr: "#7c3aed",
  ips: "#059669",
};
const HEIGHT = 130;

/**
 * @param {string} name
 * @param {string} color
 * @param {{width?: number, faint?: boolean, points?: boolean, fmt?: (v: number) => string}} [opts]
 */
export function series(name, color, opts = {}) {
  return {
    label: name,
    stroke: color,
    width: opts.width ?? 1.5,
    spanGaps: true,
    points: { show: opts.points ?? false, size: 5, fill: color },
    value: (_u, v) => (v === null || v === undefined ? "-" : (opts.fmt || formatValue)(v)),
  };
}

export function axes(yFormat) {
  const grid = { stroke: "rgba(0,0,0,0.07)", width: 1 };
  return [
    { grid, ticks: { show: false }, values: (_u, vals) => vals.map((v) => formatCount(v)) },
    { grid, ticks: { show: false }, size: 52, values: (_u, vals) => vals.map((v) => yFormat(v)) },
  ];
}

/** A y-range function that also copes with an empty chart (uPlot passes null bounds). */
export function guard(range) {
  return (u, min, max) => (min === null || max === null || !Number.isFinite(min) || !Number.isFinite(max)
    ? [0, 1] : range(u, min, max));
}

export class ChartsView {
  /**
   * @param {Store} store
   * @param {{loss: HTMLElement, acc: HTMLElement, lr: HTMLElement, ips: HTMLElement,
   *          smoothing: HTMLInputElement, smoothingValue: HTMLOutputElement}} els
   * @param {() => void} invalidate
   */
  constructor(store, els, invalidate) {
    this.store = store;
    this.els = els;
    this.weight = Number(els.smoothing.value);
    this.dirty = true;
    els.smoothing.addEventListener("input", () => {
      this.weight = Number(els.smoothing.value);
      els.smoothingValue.textContent = this.weight.toFixed(2);
      this.dirty = true;
      invalidate();
    });
    const pct = (v) => formatPercent(v, 0);
    const make = (el, seriesList, yFormat, yRange) => {
      const opts = {
        width: Math.max(200, el.clientWidth),
        height: HEIGHT,
        series: [{ label: "step", value: (_u, v) => (v === null || v === undefined ? "-" : String(v)) }, ...seriesList],
        axes: axes(yFormat),
        scales: { x: { time: false }, y: yRange ? { range: guard(yRange) } : {} },
        legend: { live: true },
        cursor: { drag: { x: true, y: false } },
      };
      const chart = new uPlot(opts, seriesList.length ? [[], ...seriesList.map(() => [])] : [[]], el);
      return chart;
    };
    this.loss = make(els.loss, [
      series("train", COLORS.raw, { width: 1 }),
      series("smoothed", COLORS.train, { width: 2 }),
      series("test", COLORS.test, { width: 2, points: true }),
    ], formatValue, (_u, min, max) => [Math.max(0, Math.min(min, max) - 0.05), max + 0.05]);
    this.acc = make(els.acc, [
      series("train", COLORS.raw, { width: 1, fmt: pct }),
      series("smoothed", COLORS.train, { width: 2, fmt: pct }),
      series("test", COLORS.test, { width: 2, points: true, fmt: pct }),
    ], pct, (_u, min, max) => [Math.max(0, min - 0.05), Math.min(1, max + 0.05)]);
    this.lr = make(els.lr, [series("lr", COLORS.lr, { width: 2 })], formatValue,
      (_u, min, max) => [0, max > 0 ? max * 1.1 : 1]);
    this.ips = make(els.ips, [
      series("per step", "rgba(5, 150, 105, 0.3)", { width: 1, fmt: formatCount }),
      series("smoothed", COLORS.ips, { width: 2, fmt: formatCount }),
    ], formatCount, (_u, min, max) => [0, max > 0 ? max * 1.1 : 1]);
    this.charts = [[this.loss, els.loss], [this.acc, els.acc], [this.lr, els.lr], [this.ips, els.ips]];
    new ResizeObserver(() => {
      this.resized = true;
      invalidate();
    }).observe(els.loss.parentElement || els.loss);
  }

  /** @param {Set<string>} topics */
  update(topics) {
    if (this.resized) {
      this.resized = false;
      for (const [chart, el] of this.charts) {
        const width = Math.max(200, el.clientWidth);
        if (width !== chart.width) chart.setSize({ width, height: HEIGHT });
      }
    }
    if (!(topics.has("metrics") || topics.has("eval") || this.dirty)) return;
    this.dirty = false;
    const { train, test } = this.store;
    const x = train.x;
    const y = train.y;
    const w = this.weight;
    const testX = test.map((p) => p.step);
    const withTest = (rawY, smoothY, testY) => {
      if (!testX.length) return [x, rawY, smoothY, new Array(x.length).fill(undefined)];
      return uPlot.join([[x, rawY, smoothY], [testX, testY]]);
    };
    this.loss.setData(withTest(y.loss, smooth(y.loss, w), test.map((p) => p.loss)));
    this.acc.setData(withTest(y.accuracy, smooth(y.accuracy, w), test.map((p) => p.accuracy)));
    this.lr.setData([x, y.lr]);
    this.ips.setData([x, y.images_per_second, smooth(y.images_per_second, w)]);
  }
}
