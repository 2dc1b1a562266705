// The one DOM helper the views share.

/**
 * Create an element: h("div", {class: "x", text: "hi"}, child, ...). `dataset` and `attrs`
 * set data-* and other attributes; never use it for inline styles or handlers.
 * @param {string} tag
 * @param {{class?: string, text?: string, title?: string, dataset?: Record<string,string>, attrs?: Record<string,string>}} [props]
 * @param {...(Node|string|null|undefined)} children
 * @returns {HTMLElement}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  if (props.class) el.className = props.class;
  if (props.text !== undefined) el.textContent = props.text;
  if (props.title) el.title = props.title;
  for (const [k, v] of Object.entries(props.dataset || {})) el.dataset[k] = v;
  for (const [k, v] of Object.entries(props.attrs || {})) el.setAttribute(k, v);
  for (const child of children) {
    if (child === null || child === undefined) continue;
    el.append(child);
  }
  return el;
}
