/** Status view: who this node is and how busy it is right now. */
import type { Snapshot } from '../api';
import { drawSparkline } from '../chart';
import { h, q, s, setText } from '../dom';
import { formatBps, formatDuration, formatPercent, shortId } from '../format';
import { copyButton, emptyState, syncList, type View } from './common';

/** Build the status view inside its section. */
export function createStatusView(root: HTMLElement): View {
  let current: Snapshot | null = null;

  const spark = s('svg', { id: 'rate-spark', class: 'sparkline', role: 'img', 'aria-label': 'Traffic over the last two minutes' });
  const counters = h('dl', { id: 'counters', class: 'counters' });
  const body = h(
    'div',
    { class: 'status-body' },
    h(
      'div',
      { class: 'card identity' },
      h('h2', {}, 'This node'),
      h(
        'div',
        { class: 'kv' },
        h('span', { class: 'k' }, 'Address'),
        h('span', { class: 'v' }, h('code', { id: 'own-address', class: 'mono big' }), copyButton('copy-address', 'Copy address', () => current?.status?.address ?? null)),
        h('span', { class: 'k' }, 'Subnet'),
        h('span', { class: 'v' }, h('code', { id: 'own-subnet', class: 'mono' }), copyButton('copy-subnet', 'Copy subnet', () => current?.status?.subnet ?? null)),
        h('span', { class: 'k' }, 'Node id'),
        h('span', { class: 'v' }, h('code', { id: 'own-node-id', class: 'mono' }), copyButton('copy-node-id', 'Copy node id', () => current?.status?.nodeId ?? null)),
        h('span', { class: 'k' }, 'Uptime'),
        h('span', { class: 'v', id: 'uptime' }),
        h('span', { class: 'k' }, 'Interface'),
        h('span', { class: 'v', id: 'tun-name' }),
      ),
    ),
    h(
      'div',
      { class: 'card traffic' },
      h('h2', {}, 'Traffic'),
      h(
        'div',
        { class: 'rates' },
        h('div', { class: 'rate up' }, h('span', { class: 'rate-label' }, '↑ Up'), h('span', { id: 'rate-up', class: 'rate-value num' })),
        h('div', { class: 'rate down' }, h('span', { class: 'rate-label' }, '↓ Down'), h('span', { id: 'rate-down', class: 'rate-value num' })),
      ),
      spark,
      h('div', { class: 'spark-legend' }, h('span', { class: 'legend up' }, 'up'), h('span', { class: 'legend down' }, 'down'), h('span', { class: 'legend-span' }, 'last 2 min')),
    ),
    h(
      'div',
      { class: 'card stats' },
      h('h2', {}, 'Mesh'),
      h(
        'div',
        { class: 'tiles' },
        h('div', { class: 'tile' }, h('span', { id: 'links-up', class: 'tile-num num' }), h('span', { class: 'tile-label' }, 'links up')),
        h('div', { class: 'tile' }, h('span', { id: 'route-count', class: 'tile-num num' }), h('span', { class: 'tile-label' }, 'routes')),
        h('div', { class: 'tile' }, h('span', { id: 'status-share', class: 'tile-num num' }), h('span', { class: 'tile-label' }, 'shared uplink')),
      ),
      h('details', { class: 'counters-details' }, h('summary', {}, 'Counters'), counters),
    ),
  );
  const empty = emptyState('No status yet. Waiting for the Hypha service…');
  root.append(h('h1', {}, 'Status'), empty, body);

  return {
    render(snap) {
      current = snap;
      const st = snap.status;
      empty.hidden = !!st;
      body.hidden = !st;
      if (!st) return;
      setText(q(root, '#own-address'), st.address);
      setText(q(root, '#own-subnet'), st.subnet);
      const idEl = q(root, '#own-node-id');
      setText(idEl, shortId(st.nodeId));
      idEl.title = st.nodeId;
      setText(q(root, '#uptime'), formatDuration(st.uptimeS));
      setText(q(root, '#tun-name'), st.tun ?? 'no TUN (userspace mode)');
      const last = snap.rates[snap.rates.length - 1];
      setText(q(root, '#rate-up'), last ? formatBps(last.txBps) : '–');
      setText(q(root, '#rate-down'), last ? formatBps(last.rxBps) : '–');
      drawSparkline(spark, [
        { values: snap.rates.map((r) => r.rxBps), cls: 'spark-down' },
        { values: snap.rates.map((r) => r.txBps), cls: 'spark-up' },
      ]);
      setText(q(root, '#links-up'), String(st.linksUp));
      setText(q(root, '#route-count'), String(st.routes));
      const share = snap.sharing?.percent ?? st.sharePercent;
      setText(q(root, '#status-share'), formatPercent(share));
      const entries = Object.entries(st.counters).sort(([a], [b]) => a.localeCompare(b));
      syncList(
        counters,
        entries,
        ([k]) => k,
        ([k]) => h('div', { class: 'counter' }, h('dt', {}, k.replace(/_/g, ' ')), h('dd', { class: 'num' })),
        (el, [, v]) => setText(el.querySelector('dd'), v.toLocaleString('en-US')),
      );
    },
  };
}
