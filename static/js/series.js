// A bounded, evenly thinned time series for the charts. However long training runs, a series
// holds at most `max` points: when full, neighbouring points are averaged in pairs and new
// points are averaged in buckets twice as large, so the whole run stays visible at even density.

export class BoundedSeries {
  /**
   * @param {string[]} fields  names of the y columns; the x column is always "step"
   * @param {number} max       most points kept (an even number)
   */
  constructor(fields, max = 2000) {
    this.fields = fields;
    this.max = max;
    this.clear();
  }

  clear() {
    /** @type {number[]} */
    this.x = [];
    /** @type {Record<string, number[]>} */
    this.y = Object.fromEntries(this.fields.map((f) => [f, []]));
    this.bucket = 1; // raw points per kept point
    this.pending = 0; // raw points summed in `sums`, not yet kept
    this.sums = Object.fromEntries(this.fields.map((f) => [f, 0]));
    this.version = (this.version || 0) + 1;
  }

  get length() {
    return this.x.length;
  }

  get lastX() {
    return this.x.length ? this.x[this.x.length - 1] : -Infinity;
  }

  /** @param {Record<string, any>} point  must hold `step` and every field (numbers) */
  push(point) {
    if (this.bucket === 1) {
      this.#keep(point.step, (f) => point[f]);
    } else {
      for (const f of this.fields) this.sums[f] += point[f];
      this.pending += 1;
      if (this.pending === this.bucket) {
        const n = this.pending;
        const means = Object.fromEntries(this.fields.map((f) => [f, this.sums[f] / n]));
        for (const f of this.fields) this.sums[f] = 0;
        this.pending = 0;
        this.#keep(point.step, (f) => means[f]);
      }
    }
    this.version += 1;
  }

  /** @param {number} step @param {(field: string) => number} value */
  #keep(step, value) {
    this.x.push(step);
    for (const f of this.fields) this.y[f].push(value(f));
    if (this.x.length > this.max) this.#halve();
  }

  /** Average neighbouring pairs: the x of a pair is its later step. */
  #halve() {
    const n = Math.floor(this.x.length / 2);
    const odd = this.x.length % 2 === 1;
    const x = new Array(n);
    for (let i = 0; i < n; i++) x[i] = this.x[2 * i + 1];
    for (const f of this.fields) {
      const src = this.y[f];
      const dst = new Array(n);
      for (let i = 0; i < n; i++) dst[i] = (src[2 * i] + src[2 * i + 1]) / 2;
      // an odd last point (the mean of `bucket` raw points) starts the next, larger bucket
      if (odd) this.sums[f] += src[src.length - 1] * this.bucket;
      this.y[f] = dst;
    }
    if (odd) this.pending += this.bucket;
    this.x = x;
    this.bucket *= 2;
  }
}

/**
 * TensorBoard's debiased exponential moving average: the first values are not pulled towards 0.
 * @param {number[]} values
 * @param {number} weight  0 = no smoothing, 0.99 = very smooth
 * @returns {number[]}
 */
export function smooth(values, weight) {
  const out = new Array(values.length);
  let last = 0;
  let count = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) {
      out[i] = v;
      continue;
    }
    last = last * weight + (1 - weight) * v;
    count += 1;
    const debias = weight === 1 ? 1 : 1 - Math.pow(weight, count);
    out[i] = last / debias;
  }
  return out;
}
