// Drawing probe blobs (uint8 tiles) onto canvases: colour maps and mosaic layout.
//
// Colour rule: a blob whose real values are all >= 0 (after relu, pooling of relu, an image) gets
// a sequential map (dark = 0, bright = max). A blob with signed values (gradients, weights,
// pre-activation outputs) gets a diverging map centred on the byte that stands for 0: blue below,
// white at zero, red above. Pixels are scaled by whole numbers with smoothing off, so they stay crisp.

/** @typedef {import('./types.js').Blob} Blob */

// viridis at 5 stops (perceptually even, readable in greyscale and by most colour-blind people)
const SEQUENTIAL = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
// RdBu reversed at 3 stops
const DIVERGING = [[33, 102, 172], [247, 247, 247], [178, 24, 43]];

/** @param {number[][]} stops @param {number} t in 0..1 */
function interpolate(stops, t) {
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const a = stops[i];
  const b = stops[i + 1];
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

const lutCache = new Map();

/**
 * The 256-entry RGBA colour table for a blob's bytes.
 * @param {{min: number, max: number}} blob
 * @returns {Uint8ClampedArray}
 */
export function lutFor(blob) {
  const signed = blob.min < 0 && blob.max > 0;
  // the byte that stands for 0.0; gradients are symmetric so this is 127.5 for them
  const zero = signed ? Math.round((255 * -blob.min) / (blob.max - blob.min)) : 0;
  const key = signed ? `d${zero}` : "s";
  let lut = lutCache.get(key);
  if (lut) return lut;
  lut = new Uint8ClampedArray(256 * 4);
  for (let v = 0; v < 256; v++) {
    let rgb;
    if (!signed) {
      rgb = interpolate(SEQUENTIAL, v / 255);
    } else if (v <= zero) {
      rgb = interpolate(DIVERGING, zero === 0 ? 0.5 : 0.5 * (v / zero));
    } else {
      rgb = interpolate(DIVERGING, 0.5 + 0.5 * ((v - zero) / (255 - zero)));
    }
    lut.set([rgb[0], rgb[1], rgb[2], 255], v * 4);
  }
  lutCache.set(key, lut);
  return lut;
}

/** The real value a byte stands for. @param {Blob} blob @param {number} byte */
export function realValue(blob, byte) {
  return blob.min + (byte / 255) * (blob.max - blob.min);
}

/**
 * @typedef {object} Mosaic
 * @property {number} scale    screen pixels per blob pixel
 * @property {number} columns
 * @property {number} rows
 * @property {number} gap
 * @property {number} tileW    on screen, without the gap
 * @property {number} tileH
 * @property {number} width    of the canvas (CSS pixels)
 * @property {number} height
 */

/**
 * Lay out a blob's tiles in a grid at most `maxWidth` wide.
 * @param {Blob} blob
 * @param {number} maxWidth
 * @param {number} targetPx   preferred on-screen size of the larger side of a tile
 * @returns {Mosaic}
 */
export function layoutMosaic(blob, maxWidth, targetPx) {
  const gap = blob.count > 1 ? 2 : 0;
  const side = Math.max(blob.height, blob.width);
  let scale = Math.max(1, Math.min(12, Math.floor(targetPx / side)));
  // never wider than the room we have, even for one big tile
  while (scale > 1 && blob.width * scale > maxWidth) scale -= 1;
  const tileW = blob.width * scale;
  const tileH = blob.height * scale;
  const columns = Math.max(1, Math.min(blob.count, Math.floor((maxWidth + gap) / (tileW + gap))));
  const rows = Math.ceil(blob.count / columns);
  return {
    scale, columns, rows, gap, tileW, tileH,
    width: columns * (tileW + gap) - gap,
    height: rows * (tileH + gap) - gap,
  };
}

/**
 * Draw every tile of `blob` onto `canvas` as a mosaic, crisp, at device pixel ratio.
 * @param {HTMLCanvasElement} canvas
 * @param {Blob} blob
 * @param {Mosaic} mosaic
 */
export function drawMosaic(canvas, blob, mosaic) {
  const { count, height: h, width: w, channels } = blob;
  const pixels = /** @type {Uint8Array} */ (blob.pixels);
  // 1. all tiles side by side at native size in one ImageData (one putImageData call)
  const native = scratchCanvas(w * count, h);
  const nctx = /** @type {CanvasRenderingContext2D} */ (native.getContext("2d"));
  const image = nctx.createImageData(w * count, h);
  const out = image.data;
  const lut = channels === 1 ? lutFor(blob) : null;
  const rowStride = w * count * 4;
  for (let t = 0; t < count; t++) {
    const base = t * h * w * channels;
    for (let y = 0; y < h; y++) {
      let o = y * rowStride + t * w * 4;
      let i = base + y * w * channels;
      for (let x = 0; x < w; x++, o += 4) {
        if (lut) {
          const k = pixels[i++] * 4;
          out[o] = lut[k];
          out[o + 1] = lut[k + 1];
          out[o + 2] = lut[k + 2];
        } else {
          out[o] = pixels[i];
          out[o + 1] = pixels[i + 1];
          out[o + 2] = pixels[i + 2];
          i += channels;
        }
        out[o + 3] = 255;
      }
    }
  }
  nctx.putImageData(image, 0, 0);

  // 2. scale each tile into its grid cell with smoothing off
  const dpr = window.devicePixelRatio || 1;
  const cw = Math.round(mosaic.width * dpr);
  const ch = Math.round(mosaic.height * dpr);
  if (canvas.width !== cw || canvas.height !== ch) {
    canvas.width = cw;
    canvas.height = ch;
  }
  canvas.style.width = `${mosaic.width}px`;
  canvas.style.height = `${mosaic.height}px`;
  const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.clearRect(0, 0, mosaic.width, mosaic.height);
  for (let t = 0; t < count; t++) {
    const col = t % mosaic.columns;
    const row = Math.floor(t / mosaic.columns);
    ctx.drawImage(native, t * w, 0, w, h,
      col * (mosaic.tileW + mosaic.gap), row * (mosaic.tileH + mosaic.gap), mosaic.tileW, mosaic.tileH);
  }
}

/**
 * Which tile and pixel of a mosaic lie under a point (CSS pixels from the canvas's top left).
 * @returns {{tile: number, x: number, y: number}|null}
 */
export function hitTest(blob, mosaic, px, py) {
  const col = Math.floor(px / (mosaic.tileW + mosaic.gap));
  const row = Math.floor(py / (mosaic.tileH + mosaic.gap));
  const ox = px - col * (mosaic.tileW + mosaic.gap);
  const oy = py - row * (mosaic.tileH + mosaic.gap);
  const tile = row * mosaic.columns + col;
  if (col >= mosaic.columns || tile >= blob.count || ox >= mosaic.tileW || oy >= mosaic.tileH || ox < 0 || oy < 0) {
    return null;
  }
  return { tile, x: Math.floor(ox / mosaic.scale), y: Math.floor(oy / mosaic.scale) };
}

/** Fill a small canvas with the blob's colour scale, left = min, right = max. */
export function drawColorBar(canvas, blob) {
  const lut = lutFor(blob);
  const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));
  if (canvas.width !== 256 || canvas.height !== 1) {
    canvas.width = 256;
    canvas.height = 1;
  }
  const image = ctx.createImageData(256, 1);
  image.data.set(lut);
  ctx.putImageData(image, 0, 0);
}

const scratch = new Map();
function scratchCanvas(w, h) {
  // a few reusable offscreen canvases keyed by size, so redraws allocate nothing
  const key = `${w}x${h}`;
  let c = scratch.get(key);
  if (!c) {
    if (scratch.size > 64) scratch.clear();
    c = document.createElement("canvas");
    c.width = w;
    c.height = h;
    scratch.set(key, c);
  }
  return c;
}
