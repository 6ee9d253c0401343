/** Routes view: the routing table and a radial map of the mesh as seen from this node. */
import { UNREACHABLE, type Route, type Snapshot } from '../api';
import { h, q, s, setText } from '../dom';
import { nodeLabel, shortId, tinyId } from '../format';
import { emptyState, syncList, type View } from './common';

interface MapNode {
  id: string;
  x: number;
  y: number;
  angle: number;
  ring: 0 | 1 | 2;
  reachable: boolean;
  subnets: string[];
  metric: number;
  via: string | null;
}

const R = 280; // half the viewBox size
const KNOWN_FROM_MAP = 'Click a node to highlight its route.';

function routeKind(r: Route): 'self' | 'direct' | 'via' {
  if (r.nextHop == null) return 'self';
  if (r.nextHop === r.nodeId) return 'direct';
  return 'via';
}

/**
 * Place nodes on two rings. Each direct neighbour gets an angular sector sized
 * by how many destinations are reached through it, and those destinations are
 * spread inside that sector, so edges stay short and never cross the centre.
 */
export function layoutMesh(ownId: string | null, routes: Route[]): MapNode[] {
  const byNode = new Map<string, Route[]>();
  for (const r of routes) {
    if (r.nextHop == null || r.nodeId === ownId) continue;
    const list = byNode.get(r.nodeId) ?? [];
    list.push(r);
    byNode.set(r.nodeId, list);
  }
  // A node may have several routes (subnets); the best metric decides how it is drawn.
  const best = new Map<string, Route>();
  for (const [id, list] of byNode) best.set(id, list.reduce((a, b) => (b.metric < a.metric ? b : a)));

  const direct = new Set<string>();
  for (const r of best.values()) if (r.nextHop === r.nodeId) direct.add(r.nodeId);
  // A next hop is a neighbour by definition, even if its own route is missing.
  for (const r of best.values()) if (r.nextHop && r.nextHop !== ownId) direct.add(r.nextHop);

  const children = new Map<string, string[]>();
  for (const d of direct) children.set(d, []);
  for (const r of best.values()) {
    if (direct.has(r.nodeId)) continue;
    children.get(r.nextHop as string)?.push(r.nodeId);
  }
  const neighbours = [...direct].sort();
  for (const c of children.values()) c.sort();

  const outerCount = [...children.values()].reduce((a, c) => a + c.length, 0);
  const r1 = outerCount ? 120 : 170;
  const r2 = 215;
  const total = neighbours.reduce((a, n) => a + Math.max(1, children.get(n)!.length), 0);
  const nodes: MapNode[] = [];
  const mk = (id: string, ring: 1 | 2, angle: number, radius: number): MapNode => {
    const list = byNode.get(id) ?? [];
    const b = best.get(id);
    return {
      id,
      ring,
      angle,
      x: Math.cos(angle) * radius,
      y: Math.sin(angle) * radius,
      reachable: b ? b.metric < UNREACHABLE : true,
      subnets: list.map((r) => r.subnet),
      metric: b?.metric ?? 0,
      via: b?.nextHop ?? null,
    };
  };
  const spanOf = (n: string) => (Math.max(1, children.get(n)!.length) / Math.max(1, total)) * Math.PI * 2;
  // Centre the first neighbour at twelve o'clock.
  let start = -Math.PI / 2 - (neighbours.length ? spanOf(neighbours[0]) / 2 : 0);
  for (const n of neighbours) {
    const kids = children.get(n)!;
    const span = spanOf(n);
    nodes.push(mk(n, 1, start + span / 2, r1));
    kids.forEach((k, i) => nodes.push(mk(k, 2, start + (span * (i + 0.5)) / kids.length, r2)));
    start += span;
  }
  return nodes;
}

function label(n: MapNode, dense: boolean): SVGElement {
  const dist = n.ring === 1 ? 14 : 10;
  const x = n.x + Math.cos(n.angle) * dist;
  const y = n.y + Math.sin(n.angle) * dist;
  const deg = (n.angle * 180) / Math.PI;
  const left = Math.cos(n.angle) < -0.01;
  if (dense) {
    // Radial labels stay legible when the ring is crowded; flip on the left so text is never upside down.
    return s(
      'text',
      {
        x: x.toFixed(1),
        y: y.toFixed(1),
        class: `map-label ring${n.ring}`,
        'text-anchor': left ? 'end' : 'start',
        'dominant-baseline': 'central',
        transform: `rotate(${(left ? deg + 180 : deg).toFixed(1)} ${x.toFixed(1)} ${y.toFixed(1)})`,
      },
      tinyId(n.id),
    );
  }
  const c = Math.cos(n.angle);
  const anchor = Math.abs(c) < 0.3 ? 'middle' : c > 0 ? 'start' : 'end';
  const sn = Math.sin(n.angle);
  const dy = Math.abs(c) < 0.3 ? (sn > 0 ? 10 : -3) : 4;
  return s('text', { x: x.toFixed(1), y: (y + dy).toFixed(1), class: `map-label ring${n.ring}`, 'text-anchor': anchor }, tinyId(n.id));
}

/** Build the routes view inside its section. */
export function createRoutesView(root: HTMLElement): View {
  const svg = s('svg', {
    id: 'mesh-map',
    viewBox: `${-R} ${-R} ${2 * R} ${2 * R}`,
    role: 'img',
    'aria-label': 'Map of the mesh as seen from this node',
  });
  const tbody = h('tbody');
  const table = h(
    'table',
    { id: 'routes-table', class: 'data' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Destination'), h('th', {}, 'Node'), h('th', {}, 'Next hop'), h('th', { class: 'num' }, 'Metric'))),
    tbody,
  );
  const empty = emptyState('No routes yet.');
  const summary = h('p', { class: 'muted small', id: 'map-summary' });
  let selected: string | null = null;
  let lastKey = '';

  root.append(
    h('h1', {}, 'Routes'),
    h(
      'div',
      { class: 'routes-layout' },
      h('div', { class: 'card map-card' }, svg, summary),
      h('div', { class: 'table-wrap routes-table-wrap' }, table, empty),
    ),
  );

  function select(id: string | null): void {
    selected = id === selected ? null : id;
    for (const el of Array.from(root.querySelectorAll<Element>('[data-node-id]'))) {
      el.classList.toggle('selected', !!selected && el.getAttribute('data-node-id') === selected);
    }
    if (selected) root.querySelector(`tr.route-row[data-node-id="${selected}"]`)?.scrollIntoView({ block: 'nearest' });
  }

  svg.addEventListener('click', (ev) => {
    const g = (ev.target as Element).closest('[data-node-id]');
    select(g ? g.getAttribute('data-node-id') : null);
  });
  tbody.addEventListener('click', (ev) => {
    const tr = (ev.target as Element).closest('tr.route-row');
    if (tr) select(tr.getAttribute('data-node-id'));
  });

  function drawMap(ownId: string | null, routes: Route[]): void {
    // Redrawing an identical map every second would reset hover state for nothing.
    const key = JSON.stringify([ownId, routes]);
    if (key === lastKey) return;
    lastKey = key;
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const nodes = layoutMesh(ownId, routes);
    const pos = new Map(nodes.map((n) => [n.id, n]));
    const ring1 = nodes.filter((n) => n.ring === 1);
    const ring2 = nodes.filter((n) => n.ring === 2);
    const edges = s('g', { class: 'map-edges' });
    const dots = s('g', { class: 'map-nodes' });
    for (const n of nodes) {
      const from = n.ring === 1 ? { x: 0, y: 0 } : pos.get(n.via ?? '') ?? { x: 0, y: 0 };
      edges.append(
        s('line', {
          x1: from.x.toFixed(1),
          y1: from.y.toFixed(1),
          x2: n.x.toFixed(1),
          y2: n.y.toFixed(1),
          class: `map-edge ring${n.ring}${n.reachable ? '' : ' unreachable'}`,
        }),
      );
    }
    const dense1 = ring1.length > 14;
    const dense2 = ring2.length > 14;
    const r2dot = ring2.length > 30 ? 4.5 : 6;
    for (const n of nodes) {
      const title = `${n.id}\n${n.subnets.join(', ') || 'no own route'}\n${
        n.ring === 1 ? 'direct neighbour' : `via ${shortId(n.via)}`
      }${n.reachable ? `, metric ${n.metric}` : ', unreachable'}`;
      dots.append(
        s(
          'g',
          { class: `map-node ring${n.ring}${n.reachable ? '' : ' unreachable'}`, 'data-node-id': n.id },
          s('title', {}, title),
          s('circle', { cx: n.x.toFixed(1), cy: n.y.toFixed(1), r: n.ring === 1 ? 9 : r2dot }),
          label(n, n.ring === 1 ? dense1 : dense2),
        ),
      );
    }
    const own = s(
      'g',
      { class: 'map-node own', 'data-node-id': ownId ?? '' },
      s('title', {}, `This node\n${ownId ?? ''}`),
      s('circle', { cx: 0, cy: 0, r: 20 }),
      s('text', { x: 0, y: -1, 'text-anchor': 'middle', class: 'own-label' }, 'you'),
      s('text', { x: 0, y: 11, 'text-anchor': 'middle', class: 'own-id' }, ownId ? tinyId(ownId) : ''),
    );
    svg.append(edges, dots, own);
    // Zoom to what is drawn: a lone node or one ring should not float in a sea of white.
    const extent = nodes.length === 0 ? 60 : ring2.length === 0 ? 230 : R;
    svg.setAttribute('viewBox', `${-extent} ${-extent} ${2 * extent} ${2 * extent}`);
    svg.style.height = nodes.length === 0 ? '150px' : ring2.length === 0 ? '340px' : '';
    if (nodes.length === 0) {
      svg.append(s('text', { x: 0, y: 40, 'text-anchor': 'middle', class: 'map-empty' }, 'No other nodes known yet'));
    }
    setText(
      summary,
      nodes.length
        ? `${ring1.length} direct neighbour${ring1.length === 1 ? '' : 's'}, ${ring2.length} further node${ring2.length === 1 ? '' : 's'}. ${KNOWN_FROM_MAP}`
        : 'Nodes appear here as routes to them are learned.',
    );
    if (selected) for (const el of Array.from(svg.querySelectorAll(`[data-node-id="${selected}"]`))) el.classList.add('selected');
  }

  return {
    render(snap: Snapshot) {
      const routes = snap.routes;
      const ownId = snap.status?.nodeId ?? routes.find((r) => r.nextHop == null)?.nodeId ?? null;
      const rank = { self: 0, direct: 1, via: 2 };
      const sorted = [...routes].sort(
        (a, b) => rank[routeKind(a)] - rank[routeKind(b)] || a.metric - b.metric || a.subnet.localeCompare(b.subnet),
      );
      syncList(
        tbody,
        sorted,
        (r) => `${r.subnet}|${r.nodeId}`,
        () =>
          h(
            'tr',
            { class: 'route-row' },
            h('td', { class: 'mono c-subnet' }),
            h('td', { class: 'mono c-node' }),
            h('td', { class: 'mono c-hop' }),
            h('td', { class: 'num c-metric' }),
          ),
        (tr, r) => {
          tr.dataset.nodeId = r.nodeId;
          tr.classList.toggle('selected', r.nodeId === selected);
          tr.classList.toggle('unreachable', r.metric >= UNREACHABLE);
          setText(q(tr, '.c-subnet'), r.subnet);
          const node = q(tr, '.c-node');
          setText(node, nodeLabel(r.nodeId, snap.names));
          node.title = r.nodeId;
          const kind = routeKind(r);
          const hop = q(tr, '.c-hop');
          setText(hop, kind === 'self' ? 'self' : kind === 'direct' ? 'direct' : nodeLabel(r.nextHop, snap.names));
          hop.title = r.nextHop ?? 'this node';
          setText(q(tr, '.c-metric'), r.metric >= UNREACHABLE ? 'unreachable' : String(r.metric));
        },
      );
      table.hidden = routes.length === 0;
      empty.hidden = routes.length > 0;
      drawMap(ownId, routes);
    },
  };
}
