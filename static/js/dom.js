// The DOM helpers the views share.

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

/**
 * Turn a button on or off without taking the keyboard's focus away: a focused button that becomes
 * `disabled` drops the focus to the page (the next Tab starts again from the top), so while it has
 * the focus it is only marked aria-disabled; its handler checks `isOff`.
 * @param {HTMLButtonElement} button @param {boolean} on
 */
export function setEnabled(button, on) {
  button.disabled = !on && document.activeElement !== button;
  button.setAttribute("aria-disabled", String(!on));
}

/** Whether a button is off (disabled, or only marked so while focused). @param {HTMLButtonElement} button */
export function isOff(button) {
  return button.disabled || button.getAttribute("aria-disabled") === "true";
}
