/** Pieces shared by the views: the view interface, keyed list syncing, copy buttons. */
import { copyText, errorText } from '../api';
import type { Snapshot } from '../api';
import { h } from '../dom';

/** A view builds its static skeleton once and then updates from each snapshot. */
export interface View {
  /** `stale` is true when the service is not up and the data is the last known state. */
  render(snap: Snapshot, stale: boolean): void;
}

/**
 * Reuse existing child elements by key instead of rebuilding, so focus, text
 * selection and half-typed input values inside rows survive the once-per-second
 * snapshot. Elements are only moved when out of place, because moving a focused
 * element blurs it.
 */
export function syncList<T>(
  container: Element,
  items: readonly T[],
  key: (item: T) => string,
  create: (item: T) => HTMLElement,
  update: (el: HTMLElement, item: T) => void,
): void {
  const existing = new Map<string, HTMLElement>();
  for (const child of Array.from(container.children)) {
    const k = (child as HTMLElement).dataset.key;
    if (k != null) existing.set(k, child as HTMLElement);
    else container.removeChild(child);
  }
  let cursor: Element | null = container.firstElementChild;
  const used = new Set<string>();
  for (const item of items) {
    const k = key(item);
    if (used.has(k)) continue; // duplicate keys would fight over one element
    used.add(k);
    let el = existing.get(k);
    if (!el) {
      el = create(item);
      el.dataset.key = k;
    }
    update(el, item);
    if (el !== cursor) container.insertBefore(el, cursor);
    else cursor = cursor.nextElementSibling;
  }
  for (const [k, el] of existing) if (!used.has(k)) el.remove();
}

/**
 * A small "Copy" button; the clipboard goes through Rust because WebKitGTK
 * denies navigator.clipboard in many setups. Errors are shown next to it.
 */
export function copyButton(id: string, label: string, getText: () => string | null): HTMLElement {
  const btn = h('button', { type: 'button', id, class: 'copy-btn', title: label }, 'Copy');
  const msg = h('span', { class: 'inline-msg', hidden: true, role: 'status' });
  let timer = 0;
  btn.addEventListener('click', async () => {
    const text = getText();
    if (!text) return;
    window.clearTimeout(timer);
    try {
      await copyText(text);
      msg.className = 'inline-msg ok';
      msg.textContent = 'Copied';
    } catch (e) {
      msg.className = 'inline-msg error';
      msg.textContent = errorText(e);
    }
    msg.hidden = false;
    timer = window.setTimeout(() => (msg.hidden = true), 4000);
  });
  return h('span', { class: 'copy-wrap' }, btn, msg);
}

/** Placeholder shown when a view has no data at all yet. */
export function emptyState(text: string): HTMLElement {
  return h('div', { class: 'empty' }, text);
}
