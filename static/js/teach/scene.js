// A street scene drawn in the page, for the sliding lesson (/learn/slide): sky, buildings, a road
// with cars and a truck, pedestrians, trees, a bird and an aeroplane. Procedural: the same seed
// always draws the same street, and no picture is downloaded.

/** A small seeded random number generator (mulberry32): () => [0, 1). */
export function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CAR_COLOURS = ["#b91c1c", "#1d4ed8", "#f8fafc", "#111827", "#ca8a04", "#15803d", "#6b7280"];
const CLOTHES = ["#1e3a8a", "#7c2d12", "#065f46", "#831843", "#374151", "#b45309"];

function rounded(ctx, x, y, w, h, r) {
  ctx.beginPath();
  ctx.moveTo(x + r, y);
  ctx.arcTo(x + w, y, x + w, y + h, r);
  ctx.arcTo(x + w, y + h, x, y + h, r);
  ctx.arcTo(x, y + h, x, y, r);
  ctx.arcTo(x, y, x + w, y, r);
  ctx.closePath();
}

function wheel(ctx, x, y, r) {
  ctx.fillStyle = "#111";
  ctx.beginPath(); ctx.arc(x, y, r, 0, 2 * Math.PI); ctx.fill();
  ctx.fillStyle = "#9ca3af";
  ctx.beginPath(); ctx.arc(x, y, r * 0.45, 0, 2 * Math.PI); ctx.fill();
}

/** A car seen from the side, its wheels on the line y, facing right unless `left`. */
function car(ctx, x, y, w, colour, left) {
  const h = w * 0.42;
  ctx.save();
  if (left) { ctx.translate(2 * x + w, 0); ctx.scale(-1, 1); }
  ctx.fillStyle = colour;
  rounded(ctx, x, y - h * 0.78, w, h * 0.5, h * 0.14); ctx.fill(); // body
  ctx.beginPath(); // cabin
  ctx.moveTo(x + w * 0.2, y - h * 0.76); ctx.lineTo(x + w * 0.32, y - h * 1.12);
  ctx.lineTo(x + w * 0.68, y - h * 1.12); ctx.lineTo(x + w * 0.84, y - h * 0.76); ctx.closePath(); ctx.fill();
  ctx.fillStyle = "#bfdbfe"; // windows
  ctx.beginPath();
  ctx.moveTo(x + w * 0.26, y - h * 0.8); ctx.lineTo(x + w * 0.35, y - h * 1.05); ctx.lineTo(x + w * 0.49, y - h * 1.05);
  ctx.lineTo(x + w * 0.49, y - h * 0.8); ctx.closePath(); ctx.fill();
  ctx.beginPath();
  ctx.moveTo(x + w * 0.53, y - h * 0.8); ctx.lineTo(x + w * 0.53, y - h * 1.05); ctx.lineTo(x + w * 0.66, y - h * 1.05);
  ctx.lineTo(x + w * 0.78, y - h * 0.8); ctx.closePath(); ctx.fill();
  ctx.fillStyle = "#fde68a"; ctx.fillRect(x + w * 0.95, y - h * 0.62, w * 0.05, h * 0.1); // headlight
  wheel(ctx, x + w * 0.22, y - h * 0.22, h * 0.24);
  wheel(ctx, x + w * 0.78, y - h * 0.22, h * 0.24);
  ctx.restore();
}

function truck(ctx, x, y, w, colour) {
  const h = w * 0.55;
  ctx.fillStyle = "#e5e7eb"; ctx.fillRect(x, y - h, w * 0.7, h * 0.8); // box
  ctx.strokeStyle = "#9ca3af"; ctx.lineWidth = 1; ctx.strokeRect(x, y - h, w * 0.7, h * 0.8);
  ctx.fillStyle = colour; rounded(ctx, x + w * 0.72, y - h * 0.7, w * 0.28, h * 0.5, 3); ctx.fill(); // cab
  ctx.fillStyle = "#bfdbfe"; ctx.fillRect(x + w * 0.8, y - h * 0.64, w * 0.14, h * 0.18);
  wheel(ctx, x + w * 0.15, y - h * 0.12, h * 0.14);
  wheel(ctx, x + w * 0.5, y - h * 0.12, h * 0.14);
  wheel(ctx, x + w * 0.86, y - h * 0.12, h * 0.14);
}

/** A person standing on the line y, `tall` pixels high. */
function person(ctx, x, y, tall, rnd) {
  const u = tall / 8;
  ctx.fillStyle = "#1f2937"; // legs
  ctx.fillRect(x - u * 0.7, y - u * 3.6, u * 0.6, u * 3.6);
  ctx.fillRect(x + u * 0.1, y - u * 3.6, u * 0.6, u * 3.6);
  ctx.fillStyle = CLOTHES[Math.floor(rnd() * CLOTHES.length)]; // coat
  rounded(ctx, x - u * 1.1, y - u * 6.6, u * 2.2, u * 3.3, u * 0.5); ctx.fill();
  ctx.fillStyle = ["#f1c27d", "#c68642", "#8d5524", "#ffdbac"][Math.floor(rnd() * 4)]; // head
  ctx.beginPath(); ctx.arc(x, y - u * 7.2, u * 0.8, 0, 2 * Math.PI); ctx.fill();
}

function tree(ctx, x, y, tall) {
  ctx.fillStyle = "#78350f"; ctx.fillRect(x - tall * 0.05, y - tall * 0.45, tall * 0.1, tall * 0.45);
  ctx.fillStyle = "#166534";
  ctx.beginPath(); ctx.arc(x, y - tall * 0.65, tall * 0.3, 0, 2 * Math.PI); ctx.fill();
  ctx.fillStyle = "#15803d";
  ctx.beginPath(); ctx.arc(x - tall * 0.12, y - tall * 0.72, tall * 0.18, 0, 2 * Math.PI); ctx.fill();
}

function plane(ctx, x, y, w) {
  ctx.fillStyle = "#f8fafc";
  rounded(ctx, x, y - w * 0.06, w, w * 0.12, w * 0.06); ctx.fill(); // fuselage
  ctx.beginPath(); ctx.moveTo(x + w * 0.45, y); ctx.lineTo(x + w * 0.3, y + w * 0.3); ctx.lineTo(x + w * 0.42, y + w * 0.3);
  ctx.lineTo(x + w * 0.62, y); ctx.closePath(); ctx.fill(); // wing
  ctx.beginPath(); ctx.moveTo(x + w * 0.05, y); ctx.lineTo(x, y - w * 0.22); ctx.lineTo(x + w * 0.1, y - w * 0.22);
  ctx.lineTo(x + w * 0.2, y); ctx.closePath(); ctx.fill(); // tail
}

function bird(ctx, x, y, w) {
  ctx.strokeStyle = "#1f2937"; ctx.lineWidth = Math.max(1, w / 12);
  ctx.beginPath(); ctx.moveTo(x - w / 2, y - w / 5); ctx.quadraticCurveTo(x - w / 4, y - w / 2, x, y);
  ctx.quadraticCurveTo(x + w / 4, y - w / 2, x + w / 2, y - w / 5); ctx.stroke();
}

/**
 * Draw a street on `canvas` (its own size; 512x384 reads well).
 * @param {HTMLCanvasElement} canvas
 * @param {number} seed
 */
export function drawStreet(canvas, seed = 1) {
  const rnd = random(seed);
  const ctx = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height;
  const horizon = H * 0.55, kerb = H * 0.66, road = H * 0.96;
  const sky = ctx.createLinearGradient(0, 0, 0, horizon);
  sky.addColorStop(0, "#60a5fa"); sky.addColorStop(1, "#dbeafe");
  ctx.fillStyle = sky; ctx.fillRect(0, 0, W, horizon);
  ctx.fillStyle = "#fde68a"; ctx.beginPath(); ctx.arc(W * (0.1 + 0.8 * rnd()), H * 0.1, H * 0.05, 0, 2 * Math.PI); ctx.fill();
  for (let i = 0; i < 3; i++) { // clouds
    const cx = W * rnd(), cy = H * (0.06 + 0.15 * rnd());
    ctx.fillStyle = "rgba(255,255,255,0.85)";
    for (let k = 0; k < 4; k++) { ctx.beginPath(); ctx.arc(cx + k * H * 0.03, cy + (k % 2) * H * 0.01, H * 0.03, 0, 2 * Math.PI); ctx.fill(); }
  }
  let x = 0; // buildings
  while (x < W) {
    const bw = W * (0.08 + 0.1 * rnd()), bh = H * (0.12 + 0.3 * rnd());
    ctx.fillStyle = ["#9ca3af", "#a8a29e", "#d6d3d1", "#78716c", "#cbd5e1"][Math.floor(rnd() * 5)];
    ctx.fillRect(x, horizon - bh, bw, bh);
    ctx.fillStyle = "rgba(30,41,59,0.55)";
    for (let wy = horizon - bh + 6; wy < horizon - 10; wy += 14) {
      for (let wx = x + 5; wx < x + bw - 8; wx += 12) ctx.fillRect(wx, wy, 6, 8);
    }
    x += bw + 2;
  }
  ctx.fillStyle = "#d1d5db"; ctx.fillRect(0, horizon, W, kerb - horizon); // pavement
  ctx.fillStyle = "#374151"; ctx.fillRect(0, kerb, W, road - kerb); // road
  ctx.fillStyle = "#9ca3af"; ctx.fillRect(0, road, W, H - road);
  ctx.fillStyle = "#f9fafb"; // lane markings
  for (let mx = W * rnd() * 0.1; mx < W; mx += W * 0.12) ctx.fillRect(mx, (kerb + road) / 2 - 2, W * 0.06, 4);
  for (let i = 0; i < 3; i++) tree(ctx, W * (0.1 + 0.8 * rnd()), horizon + 4, H * (0.16 + 0.06 * rnd()));
  const walkers = 3 + Math.floor(rnd() * 3);
  for (let i = 0; i < walkers; i++) person(ctx, W * (0.05 + 0.9 * rnd()), horizon + (kerb - horizon) * (0.4 + 0.6 * rnd()), H * (0.13 + 0.05 * rnd()), rnd);
  const lane = [kerb + (road - kerb) * 0.45, road - 4];
  truck(ctx, W * (0.05 + 0.5 * rnd()), lane[0], W * 0.26, CAR_COLOURS[Math.floor(rnd() * CAR_COLOURS.length)]);
  const cars = 2 + Math.floor(rnd() * 2);
  for (let i = 0; i < cars; i++) {
    car(ctx, W * (i / cars + 0.2 * rnd() / cars), lane[1], W * (0.17 + 0.05 * rnd()),
      CAR_COLOURS[Math.floor(rnd() * CAR_COLOURS.length)], rnd() < 0.5);
  }
  plane(ctx, W * (0.1 + 0.6 * rnd()), H * (0.18 + 0.12 * rnd()), W * 0.14);
  for (let i = 0; i < 2; i++) bird(ctx, W * rnd(), H * (0.05 + 0.3 * rnd()), W * 0.035);
}
