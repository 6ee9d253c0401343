/** Tiny DOM helpers; no framework, so keep element creation terse and safe (text, never innerHTML). */

type Attrs = Record<string, string | number | boolean | null | undefined>;
type Child = Node | string | null | undefined | false;

/** Create an element with attributes and children. `class` and `data-*` go through setAttribute. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  for (const c of children) if (c != null && c !== false) el.append(c);
  return el;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Create an SVG element (createElement would give an inert HTML element). */
export function s<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  for (const c of children) if (c != null && c !== false) el.append(c);
  return el;
}

function setAttrs(el: Element, attrs: Attrs): void {
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    el.setAttribute(k, v === true ? '' : String(v));
  }
}

/** Set text only when it changed, so selection and screen readers are not disturbed every second. */
export function setText(el: Element | null, text: string): void {
  if (el && el.textContent !== text) el.textContent = text;
}

/** Show or clear an inline error message element. */
export function showError(el: HTMLElement | null, msg: string | null): void {
  if (!el) return;
  el.textContent = msg ?? '';
  el.hidden = !msg;
}

/** Query inside a root, failing loudly during development if the skeleton changed. */
export function q<T extends HTMLElement = HTMLElement>(root: ParentNode, sel: string): T {
  const el = root.querySelector<T>(sel);
  if (!el) throw new Error(`missing element ${sel}`);
  return el;
}

/** Replace all children of a container in one go. */
export function replaceChildren(el: Element, ...children: Node[]): void {
  while (el.firstChild) el.removeChild(el.firstChild);
  for (const c of children) el.appendChild(c);
}
