/** Boot: wire the service banner, the navigation and the views to the pushed snapshots. */
import './style.css';
import { errorText, getSnapshot, onNavigate, onSnapshot, retry, type Snapshot, type ViewName } from './api';
import { q, setText, showError } from './dom';
import type { View } from './views/common';
import { createMessagesView, isUnread } from './views/messages';
import { createPeersView } from './views/peers';
import { createRoutesView } from './views/routes';
import { createSharingView } from './views/sharing';
import { createStatusView } from './views/status';

const VIEW_NAMES: ViewName[] = ['status', 'peers', 'routes', 'messages', 'sharing'];

const views: Record<ViewName, View> = {
  status: createStatusView(q(document, '#view-status')),
  peers: createPeersView(q(document, '#view-peers')),
  routes: createRoutesView(q(document, '#view-routes')),
  messages: createMessagesView(q(document, '#view-messages')),
  sharing: createSharingView(q(document, '#view-sharing')),
};

let active: ViewName = isView(location.hash.slice(1)) ? (location.hash.slice(1) as ViewName) : 'status';
let latest: Snapshot | null = null;
/** Latest snapshot with stale parts filled from the last time the service was up. */
let shown: Snapshot | null = null;
/** Newest snapshot delivered; used to drop an older invoke('snapshot') reply arriving after a pushed event. */
let seq = 0;

function isView(v: string): v is ViewName {
  return (VIEW_NAMES as string[]).includes(v);
}

/**
 * When the service is down the Rust side may send nulls; keep showing what we
 * last knew (dimmed) rather than blanking the window, which reads as data loss.
 */
function withLastKnown(snap: Snapshot, prev: Snapshot | null): Snapshot {
  if (snap.service === 'up' || !prev) return snap;
  return {
    ...snap,
    serviceVersion: snap.serviceVersion ?? prev.serviceVersion,
    status: snap.status ?? prev.status,
    peers: snap.peers ?? prev.peers,
    routes: snap.routes.length ? snap.routes : prev.routes,
    sharing: snap.sharing ?? prev.sharing,
    messages: snap.messages ?? prev.messages,
    texts: { ...prev.texts, ...snap.texts },
    rates: snap.rates.length ? snap.rates : prev.rates,
  };
}

function hasData(s: Snapshot): boolean {
  return !!(s.status || s.peers || s.sharing || s.messages || s.routes.length);
}

function renderBanner(snap: Snapshot): void {
  const banner = q(document, '#service-state');
  banner.dataset.state = snap.service;
  banner.title = `API socket: ${snap.socket}`;
  const up = snap.service === 'up';
  let text: string;
  if (up) text = `Connected to ${snap.serviceVersion ?? 'the Hypha service'}`;
  else if (snap.problem) text = snap.problem;
  else if (snap.service === 'connecting') text = 'Connecting to the Hypha service…';
  else text = 'Not connected to the Hypha service.';
  setText(q(document, '#service-text'), text);
  q(document, '#retry').hidden = up;
  q(document, '#service-note').hidden = up;
  if (up) showError(q(document, '#retry-error'), null);
}

function renderNavBadge(snap: Snapshot): void {
  const unread = (snap.messages?.inbox ?? []).filter(isUnread).length;
  const badge = q(document, '#nav-unread');
  setText(badge, String(unread));
  badge.hidden = unread === 0;
}

function renderActive(): void {
  if (!shown) return;
  const stale = shown.service !== 'up';
  q(document, '#views').classList.toggle('stale', stale);
  q(document, '#stale-note').hidden = !stale || !hasData(shown);
  try {
    views[active].render(shown, stale);
  } catch (e) {
    // One broken view must not take the banner and navigation down with it.
    console.error(`rendering ${active} failed`, e);
  }
}

/** Apply a new snapshot from either the initial invoke or a pushed event. */
function apply(snap: Snapshot): void {
  latest = snap;
  shown = withLastKnown(snap, shown);
  renderBanner(snap);
  renderNavBadge(shown);
  renderActive();
}

/** Switch the visible view; unknown names (e.g. from an older Rust side) are ignored. */
function navigate(name: string): void {
  if (!isView(name)) return;
  active = name;
  for (const sec of Array.from(document.querySelectorAll<HTMLElement>('.view'))) sec.hidden = sec.dataset.view !== name;
  for (const btn of Array.from(document.querySelectorAll<HTMLElement>('.nav-item'))) {
    const on = btn.dataset.view === name;
    btn.classList.toggle('active', on);
    if (on) btn.setAttribute('aria-current', 'page');
    else btn.removeAttribute('aria-current');
  }
  if (location.hash !== `#${name}`) history.replaceState(null, '', `#${name}`);
  renderActive();
}

q(document, '#nav').addEventListener('click', (ev) => {
  const btn = (ev.target as Element).closest<HTMLElement>('.nav-item');
  if (btn?.dataset.view) navigate(btn.dataset.view);
});

q(document, '#retry').addEventListener('click', async () => {
  const btn = q<HTMLButtonElement>(document, '#retry');
  const err = q(document, '#retry-error');
  btn.disabled = true;
  showError(err, null);
  try {
    await retry();
  } catch (e) {
    showError(err, errorText(e));
  } finally {
    btn.disabled = false;
  }
});

navigate(active);

async function boot(): Promise<void> {
  // Subscribe first so no change between the initial fetch and the listener is lost.
  try {
    await onSnapshot((s) => {
      seq++;
      apply(s);
    });
    await onNavigate(navigate);
  } catch (e) {
    console.error('event subscription failed', e);
  }
  const before = seq;
  try {
    const snap = await getSnapshot();
    if (seq === before) apply(snap);
  } catch (e) {
    if (!latest) {
      const banner = q(document, '#service-state');
      banner.dataset.state = 'error';
      setText(q(document, '#service-text'), `Could not read the app state: ${errorText(e)}`);
      q(document, '#retry').hidden = false;
    }
  }
}

void boot();
