// Number formatting shared by the views.

/** 1234 -> "1.23k", 3.2e6 -> "3.2M", 7 -> "7". */
export function formatCount(n) {
  if (n === null || n === undefined || !Number.isFinite(n)) return "-";
  const abs = Math.abs(n);
  for (const [unit, scale] of [["G", 1e9], ["M", 1e6], ["k", 1e3]]) {
    if (abs >= scale) return `${trim((n / scale).toPrecision(3))}${unit}`;
  }
  return Number.isInteger(n) ? String(n) : trim(n.toPrecision(abs >= 100 ? 3 : 2));
}

/** Bytes for people: 170498071 -> "170.5 MB". */
export function formatBytes(n) {
  if (!Number.isFinite(n)) return "-";
  for (const [unit, scale] of [["GB", 1e9], ["MB", 1e6], ["kB", 1e3]]) {
    if (Math.abs(n) >= scale) return `${(n / scale).toFixed(1)} ${unit}`;
  }
  return `${n} B`;
}

/** A hyperparameter or metric: 0.05 -> "0.05", 0.000123 -> "1.23e-4", 1234.5 -> "1235". */
export function formatValue(x) {
  if (x === null || x === undefined) return "-";
  if (typeof x !== "number") return String(x);
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return "0";
  const abs = Math.abs(x);
  if (abs < 1e-3 || abs >= 1e5) return trimExp(x.toExponential(2));
  return trim(x.toPrecision(4));
}

/** 0.8123 -> "81.2%". */
export function formatPercent(x, digits = 1) {
  if (x === null || x === undefined || !Number.isFinite(x)) return "-";
  return `${(100 * x).toFixed(digits)}%`;
}

/** A shape list: [16, 32, 32] -> "16×32×32". */
export function formatShape(shape) {
  return Array.isArray(shape) && shape.length ? shape.join("×") : "-";
}

function trim(s) {
  return s.includes(".") && !s.includes("e") ? s.replace(/\.?0+$/, "") : s;
}

function trimExp(s) {
  const [m, e] = s.split("e");
  return `${trim(m)}e${Number(e)}`;
}
