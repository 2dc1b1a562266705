// The network editor: the live network (or a preset) as a layer spec, edited in a form per layer or
// as raw JSON. Every change is checked by the server (POST /api/models/summary, debounced): a valid
// spec shows its layer table, diagram and classic pattern; an invalid one shows the server's message
// pinned to the layer. "Train this network" starts a new run with it (POST /api/run/model). The
// layer types and their fields, which the form draws, come from GET /api/layers.

import * as api from "../api.js";
import { h } from "../dom.js";
import { compact, formatSpec, retype } from "../teach/layers.js";
import { exact, layerTable, readable, scrollBox, shape } from "../teach/table.js";
import { adoptRun, showMessage } from "./controls.js";

/** @typedef {import('../socket.js').Store} Store */
/** @typedef {import('../types.js').LayerRow} LayerRow */
/** @typedef {import('../teach/layers.js').LayerTypes} LayerTypes */

const CHECK_DELAY = 250; // ms after the last keystroke before the server checks the spec
const LIVE = "";  // the source select's value for "the live network"

export class EditorView {
  /** @param {Store} store @param {HTMLElement} root */
  constructor(store, root) {
    this.store = store;
    /** @type {any[]} the spec being edited, as the person wrote it */
    this.draft = [];
    /** @type {{kind: "live"|"preset", name: string}|null} where the draft came from */
    this.source = null;
    this.edited = false;
    this.mode = "form";
    /** @type {any} the last valid summary */
    this.summary = null;
    /** @type {{detail: string, path: number[]|null}|null} */
    this.problem = null;
    this.seq = 0;
    this.timer = null;
    this.notes = new Map(); // preset name -> note
    /** @type {LayerTypes} the layer types (GET /api/layers); none until they arrive */
    this.types = {};

    this.el = {
      source: h("select", { attrs: { id: "editor-source", "aria-label": "start from" } },
        h("option", { text: "the live network", attrs: { value: LIVE } })),
      formTab: h("button", { text: "Form", attrs: { type: "button", role: "tab", id: "editor-tab-form", "aria-selected": "true" } }),
      jsonTab: h("button", { text: "JSON", attrs: { type: "button", role: "tab", id: "editor-tab-json", "aria-selected": "false" } }),
      note: h("p", { class: "editor-note", attrs: { id: "editor-note" } }),
      layers: h("ol", { class: "ed-layers", attrs: { id: "editor-layers", start: "0" } }),
      add: h("button", { class: "ed-add", text: "+ add a layer at the end", attrs: { type: "button", id: "editor-add" } }),
      json: h("textarea", { class: "editor-json", attrs: { id: "editor-json", spellcheck: "false", "aria-label": "the spec as JSON" } }),
      msg: h("p", { class: "form-msg", attrs: { id: "editor-msg", role: "status" } }),
      result: h("div", { class: "editor-result", attrs: { id: "editor-result" } }),
      name: h("input", { attrs: { id: "editor-name", type: "text", value: "custom", "aria-label": "name of the new run", autocomplete: "off" } }),
      apply: h("button", { text: "Train this network", attrs: { type: "button", id: "editor-apply", disabled: "" } }),
      applyMsg: h("p", { class: "form-msg", attrs: { id: "editor-apply-msg", role: "status" } }),
    };
    const e = this.el;
    e.json.hidden = true;
    this.formPane = h("div", { class: "editor-form" }, e.layers, e.add);
    root.replaceChildren(
      h("div", { class: "editor-bar" }, h("label", { attrs: { for: "editor-source" }, text: "Start from " }), e.source,
        h("div", { class: "editor-tabs", attrs: { role: "tablist" } }, e.formTab, e.jsonTab)),
      e.note,
      h("div", { class: "editor-grid" }, h("div", {}, this.formPane, e.json), h("div", {}, e.msg, e.result)),
      h("div", { class: "editor-apply" }, h("label", { attrs: { for: "editor-name" }, text: "Name" }), e.name, e.apply,
        e.applyMsg));

    e.source.addEventListener("change", () => this.#load(e.source.value));
    e.formTab.addEventListener("click", () => this.#setMode("form"));
    e.jsonTab.addEventListener("click", () => this.#setMode("json"));
    e.add.addEventListener("click", () => this.#edit(() => this.draft.push({ type: "relu" }), true));
    e.json.addEventListener("input", () => this.#jsonInput());
    e.apply.addEventListener("click", () => this.#apply());
    e.layers.addEventListener("input", (event) => this.#fieldInput(/** @type {any} */ (event.target)));
    e.layers.addEventListener("change", (event) => this.#fieldChange(/** @type {any} */ (event.target)));
    e.layers.addEventListener("click", (event) => this.#rowButton(/** @type {any} */ (event.target)));

    this.typesLoaded = api.request("GET", "/api/layers").then((result) => {
      if (result.ok) this.types = result.body;
      else showMessage(e.msg, "error", `Could not load the layer types: ${result.message}`);
    });
    api.listModels().then((result) => {
      if (!result.ok || !Array.isArray(result.body)) return;
      for (const m of result.body) {
        this.notes.set(m.name, m.note);
        e.source.append(h("option", { text: `preset: ${m.title || m.name}`, attrs: { value: m.name } }));
      }
    });
  }

  /** @param {Set<string>} topics */
  update(topics) {
    // no layers yet: the worker has not built a network (still loading, or no data)
    if (!topics.has("layers") || !this.store.run || !this.store.layers.length) return;
    // a model watched in its own script (convscope.watch) has no spec to edit: the editor is hidden
    if (this.store.run.source === "watch") return;
    // the live network changed (or the page connected): follow it unless the person is editing
    if (this.source === null || (this.source.kind === "live" && !this.edited)) this.#load(LIVE);
    else if (this.edited) {
      showMessage(this.el.applyMsg, "", `The live network is now ${this.store.run.model}; your edits are kept.`);
    }
  }

  /** Load the live network (LIVE) or a preset into the editor. @param {string} name */
  async #load(name) {
    const seq = ++this.seq;
    const result = name === LIVE ? await api.request("GET", "/api/run/model")
      : await api.request("GET", `/api/models/${encodeURIComponent(name)}/summary`);
    await this.typesLoaded;
    if (seq !== this.seq) return;
    if (!result.ok) {
      showMessage(this.el.msg, "error", `Could not load ${name || "the live network"}: ${result.message}`);
      return;
    }
    this.source = { kind: name === LIVE ? "live" : "preset", name: result.body.name };
    this.el.source.value = name;
    this.edited = false;
    this.draft = result.body.spec.map((layer) => compact(layer, this.types));
    this.el.name.value = result.body.name;
    const note = this.notes.get(result.body.name);
    this.el.note.textContent = name === LIVE ? `Editing the live network, ${result.body.name}.` +
      (note ? ` ${note}` : "") : note || "";
    this.#renderDraft();
    this.#show(result.body, null);
    // following the live network keeps the answer to "Train this network"; a preset clears it
    if (name !== LIVE) showMessage(this.el.applyMsg, "", "");
  }

  #setMode(mode) {
    if (mode === this.mode) return;
    if (mode === "form" && this.el.json.dataset.state === "error") {
      showMessage(this.el.msg, "error", "Fix the JSON first: the form can only show a valid list of layers.");
      return;
    }
    this.mode = mode;
    this.el.formTab.setAttribute("aria-selected", String(mode === "form"));
    this.el.jsonTab.setAttribute("aria-selected", String(mode === "json"));
    this.formPane.hidden = mode !== "form";
    this.el.json.hidden = mode !== "json";
    this.#renderDraft();
  }

  #renderDraft() {
    if (this.mode === "json") {
      this.el.json.value = formatSpec(this.draft);
      this.el.json.dataset.state = "";
    } else {
      this.el.layers.replaceChildren(...this.draft.map((layer, i) => this.#row(layer, i)));
      this.#markInvalid();
    }
  }

  /** One layer's row: index, type, a control per field, and move/delete/insert buttons. */
  #row(layer, i) {
    const li = h("li", { class: "ed-layer", dataset: { index: String(i) } }, h("span", { class: "ed-index", text: String(i) }));
    if (!layer || typeof layer !== "object" || Array.isArray(layer)) {
      li.append(h("span", { text: `not a layer: ${JSON.stringify(layer)}` }));
    } else {
      const known = Object.hasOwn(this.types, layer.type);
      const type = h("select", { class: "ed-type", title: known ? this.types[layer.type].about : "",
        attrs: { "aria-label": `layer ${i} type` } },
        ...Object.entries(this.types).map(([t, info]) => h("option", { text: t, title: info.about, attrs: { value: t } })));
      if (!known) {
        type.prepend(h("option", { text: `${JSON.stringify(layer.type ?? null)} (unknown)`, attrs: { value: "" } }));
      }
      type.value = known ? layer.type : "";
      li.append(type);
      const fields = known ? this.types[layer.type].fields : {};
      for (const [name, field] of Object.entries(fields)) li.append(this.#control(layer, i, name, field));
      for (const [name, value] of Object.entries(layer)) {
        if (name === "type" || name in fields) continue;
        li.append(h("span", { class: "ed-field ed-extra", title: "a field this type does not take" },
          `${name}: ${JSON.stringify(value)}`,
          h("button", { text: "✕", title: `remove ${name}`, attrs: { type: "button" }, dataset: { act: "drop", field: name } })));
      }
    }
    li.append(h("span", { class: "ed-buttons" },
      ...[["up", "↑", "move up"], ["down", "↓", "move down"], ["insert", "+", "insert a relu after this layer"],
        ["delete", "✕", "delete this layer"]].map(([act, text, title]) => h("button", {
        text, title, attrs: { type: "button", "aria-label": `${title} (layer ${i})` }, dataset: { act } }))));
    return li;
  }

  #control(layer, i, name, field) {
    const label = `layer ${i} ${name}`;
    const has = name in layer;
    if (field.kind === "bool") {
      const box = h("input", { attrs: { type: "checkbox", "aria-label": label }, dataset: { field: name } });
      box.checked = has ? layer[name] === true : field.default;
      return h("label", { class: "ed-field" }, box, name);
    }
    if (field.kind === "choice") {
      const select = h("select", { attrs: { "aria-label": label }, dataset: { field: name } },
        ...field.choices.map((c) => h("option", { text: c, attrs: { value: c } })));
      select.value = has ? layer[name] : field.default;
      return h("label", { class: "ed-field" }, `${name} `, select);
    }
    if (field.kind === "layers" || field.kind === "branches") {
      const area = h("textarea", { attrs: { "aria-label": label, spellcheck: "false" }, dataset: { field: name } });
      area.value = has ? JSON.stringify(layer[name]) : "";
      return h("label", { class: "ed-field" }, `${name} `, area);
    }
    const placeholder = field.required ? "required" : field.same_as ? `= ${field.same_as}` : String(field.default);
    const input = h("input", { attrs: { type: "text", "aria-label": label, placeholder, autocomplete: "off",
      inputmode: field.kind.startsWith("int") ? "numeric" : "decimal" }, dataset: { field: name } });
    input.value = has ? (typeof layer[name] === "string" ? layer[name] : JSON.stringify(layer[name])) : "";
    return h("label", { class: "ed-field" }, `${name} `, input);
  }

  /** Typing in a text field or a block's JSON. */
  #fieldInput(target) {
    const name = target.dataset.field;
    const li = target.closest("li.ed-layer");
    if (!name || !li || target.type === "checkbox" || target.tagName === "SELECT") return;
    const layer = this.draft[Number(li.dataset.index)];
    const raw = target.value.trim();
    if (target.tagName === "TEXTAREA") {
      try {
        layer[name] = JSON.parse(raw);
      } catch (err) {
        this.#local(`layer ${li.dataset.index} (${layer.type}): "${name}" is not valid JSON yet (${err.message})`,
          [Number(li.dataset.index)]);
        return;
      }
    } else if (raw === "") {
      delete layer[name];
    } else {
      // numbers as numbers; anything else goes as typed, and the server says what is wrong with it
      layer[name] = /^-?(\d+\.?\d*|\.\d+)(e-?\d+)?$/i.test(raw) ? Number(raw) : raw;
    }
    this.#edited();
  }

  /** A checkbox, a choice or a type changed. */
  #fieldChange(target) {
    const li = target.closest("li.ed-layer");
    if (!li) return;
    const i = Number(li.dataset.index);
    if (target.classList.contains("ed-type")) {
      this.#edit(() => { this.draft[i] = retype(this.draft[i], target.value, this.types); }, true);
      return;
    }
    const name = target.dataset.field;
    if (!name || (target.tagName !== "SELECT" && target.type !== "checkbox")) return;
    const field = this.types[this.draft[i].type].fields[name];
    const value = target.type === "checkbox" ? target.checked : target.value;
    if (value === field.default) delete this.draft[i][name];
    else this.draft[i][name] = value;
    this.#edited();
  }

  #rowButton(target) {
    const act = target.dataset?.act;
    const li = target.closest?.("li.ed-layer");
    if (!act || !li) return;
    const i = Number(li.dataset.index);
    const d = this.draft;
    this.#edit(() => {
      if (act === "up" && i > 0) [d[i - 1], d[i]] = [d[i], d[i - 1]];
      else if (act === "down" && i < d.length - 1) [d[i + 1], d[i]] = [d[i], d[i + 1]];
      else if (act === "delete") d.splice(i, 1);
      else if (act === "insert") d.splice(i + 1, 0, { type: "relu" });
      else if (act === "drop") delete d[i][target.dataset.field];
    }, true);
  }

  #jsonInput() {
    let parsed;
    try {
      parsed = JSON.parse(this.el.json.value);
    } catch (err) {
      this.el.json.dataset.state = "error";
      this.#local(`JSON: ${err.message}`, null);
      return;
    }
    if (!Array.isArray(parsed)) {
      this.el.json.dataset.state = "error";
      this.#local('The spec must be a JSON list of layers: [{"type": "conv", ...}, ...]', null);
      return;
    }
    this.el.json.dataset.state = "";
    this.draft = parsed;
    this.#edited();
  }

  /** Change the draft, redraw the form when its rows changed, and check it. */
  #edit(change, redraw) {
    change();
    if (redraw) this.#renderDraft();
    this.#edited();
  }

  #edited() {
    if (!this.edited && this.source && this.el.name.value === this.source.name) {
      this.el.name.value = `${this.source.name}-edited`;
    }
    this.edited = true;
    this.el.apply.disabled = true;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.#check(), CHECK_DELAY);
  }

  /** A problem found in the page (JSON that does not parse): no server check until it is fixed. */
  #local(detail, path) {
    clearTimeout(this.timer);
    this.seq++; // an answer on its way is for an older draft
    this.#show(null, { detail, path });
  }

  async #check() {
    const seq = ++this.seq;
    showMessage(this.el.msg, "pending", "checking…");
    const result = await api.request("POST", "/api/models/summary", { spec: this.draft });
    if (seq !== this.seq) return; // a newer draft is being checked
    if (result.ok) this.#show(result.body, null);
    else this.#show(null, { detail: result.message || "the server refused this spec", path: result.body?.path ?? null });
  }

  /** Show a valid summary, or a problem (keeping the last valid result, dimmed). */
  #show(summary, problem) {
    this.problem = problem;
    if (summary) this.summary = summary;
    this.#markInvalid();
    this.el.result.dataset.stale = String(!!problem);
    this.el.apply.disabled = !!problem || !this.summary;
    if (problem) {
      const inside = problem.path && problem.path.length > 1 ? ` (inside block ${problem.path.join(" → ")})` : "";
      showMessage(this.el.msg, "error", problem.detail + inside);
      return;
    }
    const rows = summary.layers.filter((row) => row.depth === 0).length;
    showMessage(this.el.msg, "ok", `Valid: ${rows} layers, ${exact(summary.params)} parameters, ` +
      `${readable(summary.macs)} MACs per image.`);
    this.el.result.replaceChildren(
      h("h3", { text: "Diagram" }), diagram(summary.layers),
      patternBox(summary.pattern),
      h("h3", { text: "Layer table" }),
      h("p", { class: "caption", text: "Output shape, parameters (weights and biases) and multiply-accumulates per image. " +
        "Only conv and fc layers cost MACs." }),
      scrollBox(layerTable(summary.layers, summary, "editor-table"), "layer table"));
  }

  /** Pin the problem to its layer's row: marked, with the message inside it. */
  #markInvalid() {
    const at = this.problem && this.problem.path && this.problem.path.length ? this.problem.path[0] : null;
    for (const li of this.el.layers.children) {
      const el = /** @type {HTMLElement} */ (li);
      el.querySelector(".ed-error")?.remove();
      if (Number(el.dataset.index) === at) {
        el.dataset.invalid = "true";
        el.append(h("p", { class: "ed-error", text: this.problem.detail }));
      } else {
        delete el.dataset.invalid;
      }
    }
  }

  async #apply() {
    if (!this.summary || this.problem) return;
    const preset = this.source && this.source.kind === "preset" && !this.edited;
    const name = this.el.name.value.trim() || "custom";
    const body = preset ? { name: this.source.name } : { spec: this.draft, name };
    this.el.apply.disabled = true;
    showMessage(this.el.applyMsg, "pending", "starting a new run…");
    const result = await api.request("POST", "/api/run/model", body);
    this.el.apply.disabled = false;
    adoptRun(this.store, result);
    if (result.ok) {
      this.source = { kind: "live", name: preset ? this.source.name : name };
      this.el.source.value = LIVE;
      this.edited = false;
    }
    showMessage(this.el.applyMsg, result.ok ? "ok" : "error", result.ok
      ? `Now training ${preset ? this.source.name : name} from fresh weights.` : `Not started: ${result.message || "refused"}`);
  }
}

/** The network as boxes: one per top-level layer, blocks drawn with their insides. @param {LayerRow[]} rows */
function diagram(rows) {
  const boxes = [];
  for (const row of rows) {
    if (row.depth !== 0) continue;
    const inner = rows.filter((r) => r.depth === 1 && r.path[0] === row.path[0]);
    const box = h("div", { class: "dg-box", dataset: { type: row.type, index: String(row.index) },
      title: `layer ${row.index}: ${row.name}, ${exact(row.params)} parameters, ${exact(row.macs)} MACs` },
    h("span", { class: "dg-name", text: row.name }),
    h("span", { class: "dg-shape", text: shape(row.output_shape) }));
    if (row.type === "inception") {
      const branches = new Map();
      for (const r of rows.filter((r) => r.depth === 2 && r.path[0] === row.path[0])) {
        if (!branches.has(r.path[1])) branches.set(r.path[1], []);
        branches.get(r.path[1]).push(r);
      }
      box.append(h("div", { class: "dg-inner" }, ...[...branches.values()].map((b) => h("div", { class: "dg-branch" },
        ...b.map(small)))), h("span", { class: "dg-inner-note", text: "branches side by side, outputs stacked on channels" }));
    } else if (inner.length) {
      box.append(h("div", { class: "dg-inner dg-chain" }, ...inner.map(small)));
      if (row.type === "residual") box.append(h("span", { class: "dg-inner-note", text: "+ the input (shortcut)" }));
    }
    if (boxes.length) boxes.push(h("span", { class: "dg-arrow", text: "→" }));
    boxes.push(box);
  }
  return h("div", { class: "diagram", attrs: { id: "editor-diagram" } }, ...boxes);
}

function small(row) {
  return h("div", { class: "dg-box", dataset: { type: row.type } },
    h("span", { class: "dg-name", text: row.name }), h("span", { class: "dg-shape", text: shape(row.output_shape) }));
}

/** The classic pattern, or why this network does not fit it. */
function patternBox(pattern) {
  if (!pattern) return h("div");
  return h("div", { class: "pattern-box", attrs: { id: "editor-pattern" }, dataset: { fits: String(pattern.fits) } },
    h("h3", { text: "The classic pattern" }),
    h("p", { class: "caption", text: "Most CNNs before 2014 are one chain: INPUT - [(CONV-RELU)*N - POOL?]*M - " +
      "(FC-RELU)*K - FC - SOFTMAX. GoogLeNet's parallel branches and ResNet's shortcuts broke it." }),
    h("p", { class: "pattern-text", text: pattern.text }),
    h("p", { class: "pattern-summary", text: pattern.summary }),
    pattern.why.length ? h("ul", {}, ...pattern.why.map((w) => h("li", { class: "why", text: w.message }))) : null,
    pattern.notes.length ? h("ul", {}, ...pattern.notes.map((n) => h("li", { class: "note", text: n }))) : null);
}
