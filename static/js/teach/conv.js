// Convolution and pooling by the book: the explorers' arithmetic as pure functions on nested
// arrays, with no DOM and no imports (tests/teach/test_conv_js.py runs it under node and checks it
// against torch.nn.functional.conv2d, max_pool2d and avg_pool2d).
//
// A volume is number[C][H][W]; conv weights are number[F][C][K][K] (PyTorch's layout); one bias per
// filter. Padding adds `pad` zeros on every side. The page shows the terms of one output cell
// (convCell, poolCell), and the whole output is those cells, so what it shows is what is tested.

/**
 * Output side of a window sliding over a padded input: floor((size + 2*pad - kernel) / stride) + 1.
 * @param {number} size @param {number} kernel @param {number} stride @param {number} pad
 */
export function outputSize(size, kernel, stride = 1, pad = 0) {
  return Math.floor((size + 2 * pad - kernel) / stride) + 1;
}

/** @param {number[][][]} volume @returns {[number, number, number]} C, H, W */
export function shapeOf(volume) {
  return [volume.length, volume[0].length, volume[0][0].length];
}

/** Throw a readable error when a window does not fit its padded input. */
function checkWindow(h, w, kernel, stride, pad) {
  for (const [name, v] of [["kernel", kernel], ["stride", stride]]) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  }
  if (!Number.isInteger(pad) || pad < 0) throw new RangeError(`pad must be an integer >= 0, got ${pad}`);
  if (kernel > h + 2 * pad || kernel > w + 2 * pad) {
    throw new RangeError(`kernel ${kernel} is larger than the ${h}x${w} input with pad ${pad}`);
  }
}

/**
 * Every product behind one output value of a convolution: filter f at output row y, column x.
 * Coordinates i, j are in the padded input (0..H+2*pad-1); `padding` marks the zeros added around it.
 * @param {number[][][]} input    C x H x W
 * @param {number[][][][]} weights F x C x K x K
 * @param {number[]|null} bias    F values, or null for none
 * @param {{stride?: number, pad?: number}} options
 * @param {number} f @param {number} y @param {number} x
 */
export function convCell(input, weights, bias, { stride = 1, pad = 0 }, f, y, x) {
  const [channels, h, w] = shapeOf(input);
  const kernel = weights[0][0].length;
  checkWindow(h, w, kernel, stride, pad);
  const terms = [];
  let sum = 0;
  for (let c = 0; c < channels; c++) {
    for (let a = 0; a < kernel; a++) {
      for (let b = 0; b < kernel; b++) {
        const i = y * stride + a; // row in the padded input
        const j = x * stride + b;
        const inside = i >= pad && i < h + pad && j >= pad && j < w + pad;
        const value = inside ? input[c][i - pad][j - pad] : 0;
        const weight = weights[f][c][a][b];
        const product = value * weight;
        sum += product;
        terms.push({ c, i, j, a, b, value, weight, product, padding: !inside });
      }
    }
  }
  const b = bias ? bias[f] : 0;
  return { terms, sum, bias: b, out: sum + b };
}

/**
 * A convolution layer: conv2d(input, weights, bias, {stride, pad}) -> F x H' x W'.
 * @param {number[][][]} input @param {number[][][][]} weights @param {number[]|null} bias
 * @param {{stride?: number, pad?: number}} [options]
 */
export function conv2d(input, weights, bias, options = {}) {
  const { stride = 1, pad = 0 } = options;
  const [channels, h, w] = shapeOf(input);
  if (weights[0].length !== channels) {
    throw new RangeError(`the filters have ${weights[0].length} channels but the input has ${channels}`);
  }
  const kernel = weights[0][0].length;
  checkWindow(h, w, kernel, stride, pad);
  const ho = outputSize(h, kernel, stride, pad);
  const wo = outputSize(w, kernel, stride, pad);
  return weights.map((_, f) => Array.from({ length: ho }, (_, y) => Array.from({ length: wo },
    (_, x) => convCell(input, weights, bias, { stride, pad }, f, y, x).out)));
}

/**
 * The window behind one pooled value of channel c at output row y, column x. Max pooling ignores
 * the padding (PyTorch pads with -infinity); average pooling counts padded zeros and divides by
 * size*size (PyTorch's count_include_pad=True, the layer spec's convention).
 * @param {number[][][]} input C x H x W
 * @param {{mode?: "max"|"avg", size?: number, stride?: number, pad?: number}} options
 * @param {number} c @param {number} y @param {number} x
 */
export function poolCell(input, options, c, y, x) {
  const { mode = "max", size = 2, stride = size, pad = 0 } = options;
  const [, h, w] = shapeOf(input);
  checkWindow(h, w, size, stride, pad);
  if (pad > size / 2) throw new RangeError(`pad ${pad} must be at most half the window size ${size}`);
  const values = [];
  for (let a = 0; a < size; a++) {
    for (let b = 0; b < size; b++) {
      const i = y * stride + a;
      const j = x * stride + b;
      const inside = i >= pad && i < h + pad && j >= pad && j < w + pad;
      values.push({ i, j, value: inside ? input[c][i - pad][j - pad] : 0, padding: !inside });
    }
  }
  if (mode === "max") {
    const real = values.filter((v) => !v.padding);
    const best = real.reduce((m, v) => (v.value > m.value ? v : m), real[0]);
    return { values, out: best.value, chosen: best };
  }
  if (mode !== "avg") throw new RangeError(`mode must be "max" or "avg", got ${mode}`);
  const total = values.reduce((s, v) => s + v.value, 0);
  return { values, sum: total, out: total / (size * size), chosen: null };
}

/**
 * A pooling layer: pool2d(input, {mode, size, stride, pad}) -> C x H' x W'. No parameters.
 * @param {number[][][]} input
 * @param {{mode?: "max"|"avg", size?: number, stride?: number, pad?: number}} [options]
 */
export function pool2d(input, options = {}) {
  const { size = 2, stride = size, pad = 0 } = options;
  const [channels, h, w] = shapeOf(input);
  checkWindow(h, w, size, stride, pad);
  const ho = outputSize(h, size, stride, pad);
  const wo = outputSize(w, size, stride, pad);
  return Array.from({ length: channels }, (_, c) => Array.from({ length: ho }, (_, y) => Array.from({ length: wo },
    (_, x) => poolCell(input, { ...options, size, stride, pad }, c, y, x).out)));
}

/** A seeded random number generator (mulberry32): the same seed gives the same "random" example. */
export function seededRandom(seed) {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer volume of the given shape, each value in [lo, hi]. @returns {any} */
export function randomVolume(shape, lo, hi, random = Math.random) {
  const [first, ...rest] = shape;
  return Array.from({ length: first }, () => (rest.length ? randomVolume(rest, lo, hi, random)
    : lo + Math.floor(random() * (hi - lo + 1))));
}
