/** SVG charts: a tiny sparkline for the status view and the transit chart for sharing. */
import type { RateSample } from './api';
import { s } from './dom';
import { formatBps } from './format';

/** Seconds of history shown; the Rust side keeps up to 120 samples. */
export const WINDOW_S = 120;

function pathFor(values: number[], w: number, hgt: number, max: number, slots: number): string {
  // Right-align so the newest sample always sits at the right edge, even while
  // the history is still filling up after start.
  const off = slots - values.length;
  const step = w / Math.max(1, slots - 1);
  return values
    .map((v, i) => {
      const x = (off + i) * step;
      const y = hgt - (Math.min(v, max) / max) * hgt;
      return `${i ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join('');
}

/**
 * Fill an SVG with up to two overlaid sparklines (e.g. up and down).
 * Uses a shared scale so the two series stay comparable.
 */
export function drawSparkline(svg: SVGSVGElement, series: { values: number[]; cls: string }[]): void {
  const w = 240;
  const hgt = 40;
  svg.setAttribute('viewBox', `0 0 ${w} ${hgt}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const max = Math.max(1, ...series.flatMap((x) => x.values)) * 1.1;
  for (const { values, cls } of series) {
    if (values.length < 2) continue;
    svg.append(
      s('path', {
        d: pathFor(values, w, hgt - 1, max, WINDOW_S),
        class: cls,
        fill: 'none',
        'vector-effect': 'non-scaling-stroke',
      }),
    );
  }
}

/** Round a maximum up to a 1/2/5 step so axis labels are readable numbers. */
function niceMax(v: number): number {
  if (v <= 0) return 1000;
  const exp = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * exp >= v) return m * exp;
  return 10 * exp;
}

/**
 * The sharing chart: forwarded transit rate over the last two minutes against
 * the limit line. The limit is drawn per sample because changing the slider
 * moves it, and the user should see the effect in the history.
 */
export function drawShareChart(svg: SVGSVGElement, rates: RateSample[]): void {
  const W = 640;
  const H = 200;
  const padL = 72;
  const padR = 12;
  const padT = 12;
  const padB = 24;
  const w = W - padL - padR;
  const hgt = H - padT - padB;
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  while (svg.firstChild) svg.removeChild(svg.firstChild);

  const fwd = rates.map((r) => r.forwardedBps);
  const limits = rates.map((r) => r.limitBps);
  const top = niceMax(Math.max(0, ...fwd, ...limits.map((l) => l ?? 0)) * 1.1);
  const step = w / (WINDOW_S - 1);
  const off = WINDOW_S - rates.length;
  const xAt = (i: number) => padL + (off + i) * step;
  const yAt = (v: number) => padT + hgt - (Math.min(v, top) / top) * hgt;

  const grid = s('g', { class: 'chart-grid' });
  for (let k = 0; k <= 4; k++) {
    const v = (top * k) / 4;
    const y = yAt(v);
    grid.append(s('line', { x1: padL, x2: W - padR, y1: y, y2: y }));
    grid.append(s('text', { x: padL - 6, y: y + 4, 'text-anchor': 'end' }, formatBps(v)));
  }
  for (const sec of [120, 90, 60, 30, 0]) {
    const x = padL + ((WINDOW_S - 1 - sec) / (WINDOW_S - 1)) * w;
    grid.append(
      s('text', { x, y: H - 6, 'text-anchor': sec === 120 ? 'start' : sec === 0 ? 'end' : 'middle' }, sec ? `−${sec} s` : 'now'),
    );
  }
  svg.append(grid);

  if (rates.length >= 2) {
    const line = fwd.map((v, i) => `${i ? 'L' : 'M'}${xAt(i).toFixed(1)},${yAt(v).toFixed(1)}`).join('');
    const area = `${line}L${xAt(fwd.length - 1).toFixed(1)},${yAt(0)}L${xAt(0).toFixed(1)},${yAt(0)}Z`;
    svg.append(s('path', { d: area, class: 'chart-area' }));
    svg.append(s('path', { d: line, class: 'chart-line', fill: 'none' }));
  }

  // Limit as a stepped line; gaps where there is no limit (unlimited).
  let d = '';
  let prev: number | null = null;
  limits.forEach((l, i) => {
    if (l == null) {
      prev = null;
      return;
    }
    const x = xAt(i);
    const y = yAt(l);
    d += prev == null ? `M${x.toFixed(1)},${y.toFixed(1)}` : `H${x.toFixed(1)}V${y.toFixed(1)}`;
    prev = l;
  });
  if (d) svg.append(s('path', { d, class: 'chart-limit', fill: 'none' }));

  if (rates.length === 0) {
    svg.append(s('text', { x: padL + w / 2, y: padT + hgt / 2, 'text-anchor': 'middle', class: 'chart-empty' }, 'No samples yet'));
  }
}
