/** Human formatting of sizes, rates, durations and ids. */

function trimNumber(v: number): string {
  // Three significant digits is enough to read a rate at a glance without
  // the last digit flickering every second.
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1).replace(/\.0$/, '');
  return v.toFixed(2).replace(/\.?0+$/, '');
}

/** Byte counts in SI units ("1.2 MB"), matching how transfer totals are usually quoted. */
export function formatBytes(n: number | null | undefined): string {
  if (n == null || !isFinite(n)) return '–';
  if (n < 1000) return `${Math.round(n)} B`;
  const units = ['kB', 'MB', 'GB', 'TB', 'PB'];
  let v = n;
  let i = -1;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${trimNumber(v)} ${units[i]}`;
}

/** Bit rates in SI units ("30 Mbit/s"), the way uplinks are sold. */
export function formatBps(n: number | null | undefined): string {
  if (n == null || !isFinite(n)) return '–';
  if (n < 1000) return `${Math.round(n)} bit/s`;
  const units = ['kbit/s', 'Mbit/s', 'Gbit/s', 'Tbit/s'];
  let v = n;
  let i = -1;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${trimNumber(v)} ${units[i]}`;
}

/** A rate in the form set_uplink accepts ("100mbit"), to prefill the uplink input. */
export function bpsToUplinkSpec(n: number): string {
  const steps: [number, string][] = [
    [1e9, 'gbit'],
    [1e6, 'mbit'],
    [1e3, 'kbit'],
  ];
  for (const [f, u] of steps) {
    if (n >= f && Number.isInteger(n / f)) return `${n / f}${u}`;
  }
  for (const [f, u] of steps) {
    if (n >= f) return `${trimNumber(n / f)}${u}`;
  }
  return `${n}bit`;
}

/** Durations as two coarse units ("2 h 3 min"); finer detail is noise for an uptime. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds == null || !isFinite(seconds) || seconds < 0) return '–';
  const s = Math.floor(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min${s % 60 ? ` ${s % 60} s` : ''}`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h} h${m % 60 ? ` ${m % 60} min` : ''}`;
  const d = Math.floor(h / 24);
  return `${d} d${h % 24 ? ` ${h % 24} h` : ''}`;
}

/** Short form of a 64-hex node id: enough to tell nodes apart in a list. */
export function shortId(id: string | null | undefined): string {
  if (!id) return '–';
  return id.length > 12 ? `${id.slice(0, 8)}…${id.slice(-4)}` : id;
}

/** Very short label for drawing on the map, where space is scarce. */
export function tinyId(id: string): string {
  return id.slice(0, 6);
}

/** Milliseconds in a compact unit. */
export function formatMs(ms: number | null | undefined): string {
  if (ms == null || !isFinite(ms)) return '–';
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Message time: clock time today, otherwise a short date; the year only when it differs. */
export function formatTime(ms: number): string {
  const d = new Date(ms);
  const now = new Date();
  const pad = (x: number) => String(x).padStart(2, '0');
  const clock = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  if (d.toDateString() === now.toDateString()) return clock;
  const day = `${d.getDate()} ${MONTHS[d.getMonth()]}`;
  return d.getFullYear() === now.getFullYear() ? `${day} ${clock}` : `${day} ${d.getFullYear()} ${clock}`;
}

/** Compact time for lists: clock today, date otherwise. */
export function formatShortTime(ms: number): string {
  const d = new Date(ms);
  const now = new Date();
  if (d.toDateString() === now.toDateString()) return formatTime(ms);
  const day = `${d.getDate()} ${MONTHS[d.getMonth()]}`;
  return d.getFullYear() === now.getFullYear() ? day : `${day} ${d.getFullYear()}`;
}

/** Percentage with a thin space, as the UI spells it ("30 %"). */
export function formatPercent(p: number): string {
  return `${Math.round(p)} %`;
}

/** A node for people: its name when one is known, else the short id. */
export function nodeLabel(id: string | null | undefined, names: Record<string, string> | undefined): string {
  const name = id ? names?.[id] : undefined;
  return name ? `${name}.hypha` : shortId(id);
}
