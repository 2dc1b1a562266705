// Layer specs as the network editor writes them (docs/layer-spec.md). The types and their fields
// come from the server (GET /api/layers, server/models/layers.py), which also validates
// (POST /api/models/summary); this module only shortens and retypes layers. No imports:
// tests/teach/test_layers_js.py runs it under node.

/** @typedef {import('../types.js').LayerTypeInfo} LayerTypeInfo */
/** @typedef {Record<string, LayerTypeInfo>} LayerTypes */

/**
 * A layer without the fields that only repeat a default (pool's stride equal to its size too),
 * inside blocks as well: what a person would write. Anything unknown is kept as it is.
 * @param {any} layer @param {LayerTypes} types
 * @returns {any}
 */
export function compact(layer, types) {
  if (!layer || typeof layer !== "object" || Array.isArray(layer)) return layer;
  const fields = types[layer.type]?.fields;
  if (!fields) return layer;
  const out = {};
  for (const [name, value] of Object.entries(layer)) {
    const field = fields[name];
    if (field && field.kind === "layers" && Array.isArray(value)) out[name] = value.map((l) => compact(l, types));
    else if (field && field.kind === "branches" && Array.isArray(value)) {
      out[name] = value.map((b) => (Array.isArray(b) ? b.map((l) => compact(l, types)) : b));
    } else if (field && field.same_as && value === (layer[field.same_as] ?? fields[field.same_as].default)) continue;
    else if (field && !field.required && !field.same_as && value === field.default) continue;
    else out[name] = value;
  }
  return out;
}

/**
 * Change a layer's type: the new type's starter, with the fields the old layer shares with it.
 * @param {any} layer @param {string} type @param {LayerTypes} types
 */
export function retype(layer, type, types) {
  const out = structuredClone(types[type]?.starter ?? { type });
  const fields = types[type]?.fields ?? {};
  if (layer && typeof layer === "object") {
    for (const [name, value] of Object.entries(layer)) {
      if (name in fields && fields[name].kind === types[layer.type]?.fields[name]?.kind) out[name] = value;
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
