// The layer spec's types and fields, for the network editor's form (docs/layer-spec.md). The server
// validates (POST /api/models/summary); this table only says which inputs to draw. No imports:
// tests/teach/test_layers_js.py checks it against server/models/layers.py's TYPES under node.

/**
 * kind: "int" (> 0), "int0" (>= 0), "number", "prob" (in [0, 1)), "bool", "choice", "layers"
 * (a list of layers), "branches" (a list of layer lists). default: undefined when required;
 * null for pool's stride, which defaults to the window size.
 * @typedef {{kind: string, default?: any, choices?: string[]}} Field
 * @type {Record<string, Record<string, Field>>}
 */
export const LAYER_TYPES = {
  input: { channels: { kind: "int", default: 3 }, height: { kind: "int", default: 32 }, width: { kind: "int", default: 32 } },
  conv: {
    filters: { kind: "int" }, size: { kind: "int" }, stride: { kind: "int", default: 1 },
    pad: { kind: "int0", default: 0 }, bias: { kind: "bool", default: true },
  },
  pool: {
    mode: { kind: "choice", choices: ["max", "avg"], default: "max" }, size: { kind: "int", default: 2 },
    stride: { kind: "int", default: null }, pad: { kind: "int0", default: 0 },
  },
  globalpool: { mode: { kind: "choice", choices: ["avg", "max"], default: "avg" } },
  relu: {},
  sigmoid: {},
  tanh: {},
  gelu: {},
  batchnorm: {},
  dropout: { p: { kind: "prob", default: 0.5 } },
  flatten: {},
  scale: { factor: { kind: "number" } },
  fc: { units: { kind: "int" }, bias: { kind: "bool", default: true } },
  softmax: {},
  whiten: { size: { kind: "int", default: 2 } },
  residual: {
    layers: { kind: "layers" },
    activation: { kind: "choice", choices: ["none", "relu", "sigmoid", "tanh", "gelu"], default: "none" },
    shortcut: { kind: "choice", choices: ["auto", "identity", "conv"], default: "auto" },
  },
  inception: { branches: { kind: "branches" } },
  nin: { filters: { kind: "int" }, size: { kind: "int" }, stride: { kind: "int", default: 1 }, pad: { kind: "int0", default: 0 } },
};

/** What a new layer of `type` starts with: its required fields filled with a typical value. */
export const STARTERS = {
  conv: { type: "conv", filters: 16, size: 3, pad: 1 },
  fc: { type: "fc", units: 10 },
  scale: { type: "scale", factor: 0.125 },
  residual: { type: "residual", layers: [{ type: "conv", filters: 16, size: 3, pad: 1 }, { type: "relu" }] },
  inception: { type: "inception", branches: [[{ type: "conv", filters: 8, size: 1 }], [{ type: "conv", filters: 8, size: 3, pad: 1 }]] },
  nin: { type: "nin", filters: 32, size: 3, pad: 1 },
};

/**
 * A layer without the fields that only repeat a default (pool's stride equal to its size too),
 * inside blocks as well: what a person would write. Anything unknown is kept as it is.
 * @param {any} layer
 * @returns {any}
 */
export function compact(layer) {
  if (!layer || typeof layer !== "object" || Array.isArray(layer)) return layer;
  const fields = LAYER_TYPES[layer.type];
  if (!fields) return layer;
  const out = {};
  for (const [name, value] of Object.entries(layer)) {
    const field = fields[name];
    if (field && field.kind === "layers" && Array.isArray(value)) out[name] = value.map(compact);
    else if (field && field.kind === "branches" && Array.isArray(value)) {
      out[name] = value.map((b) => (Array.isArray(b) ? b.map(compact) : b));
    } else if (field && "default" in field && value === field.default) continue;
    else if (layer.type === "pool" && name === "stride" && value === (layer.size ?? 2)) continue;
    else out[name] = value;
  }
  return out;
}

/**
 * Change a layer's type, keeping the fields the new type also has.
 * @param {any} layer @param {string} type
 */
export function retype(layer, type) {
  const out = { ...(STARTERS[type] || { type }) };
  const fields = LAYER_TYPES[type] || {};
  if (layer && typeof layer === "object") {
    for (const [name, value] of Object.entries(layer)) {
      if (name in fields && fields[name].kind === (LAYER_TYPES[layer.type]?.[name]?.kind)) out[name] = value;
    }
  }
  out.type = type;
  return out;
}

/** A spec as JSON text, one layer per line. @param {any} spec */
export function formatSpec(spec) {
  if (!Array.isArray(spec)) return JSON.stringify(spec, null, 2);
  return spec.length ? `[\n${spec.map((layer) => `  ${JSON.stringify(layer)}`).join(",\n")}\n]` : "[]";
}
