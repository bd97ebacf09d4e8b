/** Small hand-rolled SVG charts (a few hundred bytes instead of a chart library). */
import { h } from './dom.js';

/** A bar chart of `values` (oldest to newest); `label` describes it for screen readers. */
export function bars(values, label, colour = '#1a5fd0') {
  const w = 240;
  const ht = 48;
  const max = Math.max(1, ...values);
  const bw = w / Math.max(1, values.length);
  return h(
    'svg:svg',
    { viewBox: `0 0 ${w} ${ht}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': label },
    values.map((v, i) => {
      const bh = v === 0 ? 1 : Math.max(2, (v / max) * (ht - 2));
      return h('svg:rect', { x: (i * bw).toFixed(1), y: (ht - bh).toFixed(1), width: Math.max(1, bw - 1).toFixed(1), height: bh.toFixed(1), fill: v === 0 ? '#d9dde5' : colour });
    }),
  );
}

/** A horizontal stacked bar of parts [{value, colour, label}]. */
export function stack(parts, label) {
  const total = parts.reduce((s, p) => s + p.value, 0) || 1;
  let x = 0;
  return h(
    'svg:svg',
    { viewBox: '0 0 240 20', preserveAspectRatio: 'none', role: 'img', 'aria-label': label },
    parts.map((p) => {
      const width = (p.value / total) * 240;
      const rect = h('svg:rect', { x: x.toFixed(1), y: 0, width: width.toFixed(1), height: 20, fill: p.colour }, h('svg:title', {}, `${p.label}: ${p.value}`));
      x += width;
      return rect;
    }),
  );
}

/** The recent health checks of an agent as a strip of green/red ticks (oldest left). */
export function checkStrip(checks, label) {
  const list = [...checks].reverse();
  const w = 6;
  return h(
    'svg:svg',
    { class: 'strip', viewBox: `0 0 ${Math.max(1, list.length) * w} 14`, width: '100%', height: 14, preserveAspectRatio: 'none', role: 'img', 'aria-label': label },
    list.map((c, i) =>
      h('svg:rect', { x: i * w, y: 0, width: w - 1, height: 14, fill: c.ok ? '#18794e' : '#c62828' }, h('svg:title', {}, `${new Date(c.at).toLocaleTimeString()} ${c.ok ? 'ok' : 'failed'} ${c.latencyMs} ms${c.detail ? ` — ${c.detail}` : ''}`)),
    ),
  );
}
