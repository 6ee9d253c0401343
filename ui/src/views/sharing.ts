/** Sharing view: how much of the uplink this node offers to carry other people's traffic. */
import { errorText, setShare, setUplink, type NeighbourShare, type Snapshot } from '../api';
import { drawShareChart } from '../chart';
import { h, q, s, setText, showError } from '../dom';
import { bpsToUplinkSpec, formatBps, formatBytes, formatPercent, nodeLabel } from '../format';
import { emptyState, syncList, type View } from './common';

const PRESETS = [0, 10, 25, 50, 100];

/** The sentence under the slider; at 0 % the node does not forward at all, which matters more than a number. */
export function limitText(percent: number, limitBps: number | null): string {
  if (percent <= 0) return 'not forwarding for others';
  if (limitBps == null) return 'unlimited';
  return `limit ${formatBps(limitBps)}`;
}

/** Build the sharing view inside its section. */
export function createSharingView(root: HTMLElement): View {
  let last: Snapshot | null = null;
  // While dragging or while a set_share is in flight the slider shows the
  // user's value, not the (older) one from the snapshot.
  let dragging = false;
  let pending: number | null = null;

  const slider = h('input', {
    id: 'share-slider',
    type: 'range',
    min: 0,
    max: 100,
    step: 1,
    value: 0,
    'aria-label': 'Share of uplink for transit traffic',
  });
  const value = h('span', { id: 'share-value', class: 'share-value num' }, '–');
  const limit = h('span', { id: 'share-limit', class: 'share-limit' });
  const shareErr = h('div', { id: 'share-error', class: 'error', hidden: true, role: 'alert' });
  const presets = h(
    'div',
    { class: 'presets', role: 'group', 'aria-label': 'Presets' },
    ...PRESETS.map((p) => h('button', { type: 'button', class: 'share-preset', 'data-percent': p }, `${p} %`)),
  );

  const uplinkCurrent = h('span', { id: 'uplink-current', class: 'muted' });
  const uplinkInput = h('input', {
    id: 'uplink-input',
    type: 'text',
    placeholder: 'e.g. 100mbit',
    spellcheck: 'false',
    autocomplete: 'off',
    'aria-label': 'Uplink capacity',
  });
  const uplinkSave = h('button', { id: 'uplink-save', type: 'submit' }, 'Save');
  const uplinkErr = h('div', { id: 'uplink-error', class: 'error', hidden: true, role: 'alert' });
  const uplinkForm = h('form', { class: 'inline-form', id: 'uplink-form' }, uplinkInput, uplinkSave);

  const chart = s('svg', { id: 'share-chart', class: 'chart', role: 'img', 'aria-label': 'Forwarded traffic and limit over the last two minutes' });
  const tbody = h('tbody');
  const table = h(
    'table',
    { id: 'transit-table', class: 'data' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', {}, 'Neighbour'),
        h('th', { class: 'num' }, 'Weight'),
        h('th', { class: 'num' }, 'Forwarded'),
        h('th', { class: 'num', title: 'Share of this neighbour’s transit traffic dropped because of the limit' }, 'Dropped by limit'),
        h('th', { class: 'num' }, 'Rate now'),
      ),
    ),
    tbody,
  );
  const noNeighbours = h('p', { class: 'muted small' }, 'No transit traffic from neighbours yet.');
  const body = h(
    'div',
    { class: 'sharing-body' },
    h(
      'div',
      { class: 'card share-card' },
      h('h2', {}, 'Share my uplink'),
      h('p', { class: 'muted small' }, 'Other nodes can route their traffic through yours. Choose how much of your uplink they may use.'),
      h('div', { class: 'slider-row' }, slider, value),
      h('div', { class: 'slider-under' }, presets, limit),
      shareErr,
      h('div', { class: 'uplink-row' }, h('span', { class: 'k' }, 'Uplink'), uplinkCurrent, uplinkForm),
      uplinkErr,
    ),
    h(
      'div',
      { class: 'card chart-card' },
      h('h2', {}, 'Forwarded for others'),
      chart,
      h('div', { class: 'spark-legend' }, h('span', { class: 'legend fwd' }, 'forwarded'), h('span', { class: 'legend limit' }, 'limit')),
    ),
    h('div', { class: 'card' }, h('h2', {}, 'Transit per neighbour'), h('div', { class: 'table-wrap' }, table), noNeighbours),
  );
  const empty = emptyState('No sharing information yet. Waiting for the Hypha service…');
  root.append(h('h1', {}, 'Sharing'), empty, body);

  /** Preview the limit locally while dragging; the service computes the real one. */
  function previewLimit(p: number): number | null {
    const sh = last?.sharing;
    const up = sh?.uplinkBps ?? sh?.uplinkMeasuredBps ?? null;
    if (!sh || up == null) return sh?.limitBps ?? null;
    // At 100 % a configured uplink is the limit; a measured one limits nothing.
    if (p >= 100) return sh.uplinkBps != null ? (sh.limitBps ?? null) : null;
    return (up * p) / 100;
  }

  function showValue(p: number): void {
    setText(value, formatPercent(p));
    for (const b of Array.from(presets.children) as HTMLElement[]) b.classList.toggle('active', Number(b.dataset.percent) === p);
  }

  async function apply(p: number): Promise<void> {
    pending = p;
    slider.value = String(p);
    showValue(p);
    setText(limit, limitText(p, previewLimit(p)));
    try {
      await setShare(p);
      showError(shareErr, null);
    } catch (e) {
      showError(shareErr, errorText(e));
    } finally {
      if (pending === p) pending = null;
      if (last) render(last);
    }
  }

  slider.addEventListener('pointerdown', () => (dragging = true));
  // Keyboard changes also fire input/change, but must not leave `dragging` stuck on.
  window.addEventListener('pointerup', () => (dragging = false));
  slider.addEventListener('input', () => {
    const p = Number(slider.value);
    showValue(p);
    setText(limit, limitText(p, previewLimit(p)));
  });
  slider.addEventListener('change', () => {
    dragging = false;
    void apply(Number(slider.value));
  });
  presets.addEventListener('click', (ev) => {
    const b = (ev.target as Element).closest<HTMLElement>('.share-preset');
    if (b) void apply(Number(b.dataset.percent));
  });
  uplinkForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const v = uplinkInput.value.trim().toLowerCase().replace(/\s+/g, '');
    if (!/^\d+(\.\d+)?(k|m|g|t)?(bit|bps|b)?(\/s)?$/.test(v)) {
      showError(uplinkErr, 'Enter the uplink as a number and unit, e.g. 500kbit, 100mbit or 1gbit.');
      return;
    }
    uplinkSave.disabled = true;
    try {
      await setUplink(v);
      uplinkInput.value = '';
      showError(uplinkErr, null);
    } catch (e) {
      showError(uplinkErr, errorText(e));
    } finally {
      uplinkSave.disabled = false;
    }
  });
  uplinkInput.addEventListener('input', () => showError(uplinkErr, null));

  function render(snap: Snapshot): void {
    last = snap;
    const sh = snap.sharing;
    empty.hidden = !!sh;
    body.hidden = !sh;
    if (!sh) return;
    if (!dragging && pending == null) {
      slider.value = String(sh.percent);
      showValue(sh.percent);
      setText(limit, limitText(sh.percent, sh.limitBps));
    }
    const measured = sh.uplinkMeasuredBps;
    setText(
      uplinkCurrent,
      sh.uplinkBps != null
        ? `${formatBps(sh.uplinkBps)} (set by you)`
        : measured != null
          ? `≈ ${formatBps(measured)}, measured`
          : 'not measured yet (set it, or it is measured once traffic has flowed)',
    );
    uplinkInput.placeholder = sh.uplinkBps != null ? `e.g. ${bpsToUplinkSpec(sh.uplinkBps)}` : 'e.g. 100mbit';
    drawShareChart(chart, snap.rates);
    const ns = [...sh.neighbours].sort((a, b) => b.rateBps - a.rateBps || a.nodeId.localeCompare(b.nodeId));
    noNeighbours.hidden = ns.length > 0;
    table.hidden = ns.length === 0;
    syncList(
      tbody,
      ns,
      (n) => n.nodeId,
      () =>
        h(
          'tr',
          { class: 'transit-row' },
          h('td', { class: 'mono c-node' }),
          h('td', { class: 'num c-weight' }),
          h('td', { class: 'num c-fwd' }),
          h('td', { class: 'num c-drop' }),
          h('td', { class: 'num c-rate' }),
        ),
      (tr, n: NeighbourShare) => {
        tr.dataset.nodeId = n.nodeId;
        const node = q(tr, '.c-node');
        setText(node, nodeLabel(n.nodeId, snap.names));
        node.title = n.nodeId;
        setText(q(tr, '.c-weight'), String(n.weight));
        setText(q(tr, '.c-fwd'), formatBytes(n.forwardedBytes));
        setText(q(tr, '.c-drop'), formatDropped(n.droppedShare));
        setText(q(tr, '.c-rate'), formatBps(n.rateBps));
      },
    );
  }

  return { render };
}

/** droppedShare is a fraction 0–1 of the neighbour's transit traffic. */
/** `droppedShare` counts packets the share limit dropped. */
function formatDropped(n: number): string {
  return n === 1 ? '1 packet' : `${n.toLocaleString()} packets`;
}
