/** The Agents panel: branches × agents with live status, latency, uptime, check history, pairing and actions. */
import { badge, h, render, time } from './dom.js';
import { checkStrip } from './charts.js';

const STATUS_TEXT = { up: 'Up', down: 'Down', pending: 'Checking', maintenance: 'Maintenance', blocked: 'Blocked' };

function pairingView(p, agentId) {
  if (!p) return null;
  return h(
    'div',
    { class: 'pairing', 'aria-live': 'polite', 'data-testid': `pairing-${agentId}` },
    h('p', {}, h('strong', {}, 'Pair this WhatsApp number'), h('br'), 'Scan in WhatsApp → Linked devices, or enter the code.'),
    p.qrImage ? h('img', { src: p.qrImage, alt: `WhatsApp pairing QR code for ${agentId}, updated ${time(p.at)}`, 'data-at': p.at }) : null,
    p.pairingCode ? h('p', { class: 'code', 'aria-label': `Pairing code ${p.pairingCode.split('').join(' ')}` }, p.pairingCode) : null,
  );
}

/** The recent checks: a strip of ticks, and the same counts as text (colour alone says nothing to some people). */
function checkHistory(checks) {
  if (!checks.length) return null;
  const ok = checks.filter((x) => x.ok).length;
  return [
    checkStrip(checks, `Last ${checks.length} checks: ${ok} ok, ${checks.length - ok} failed`),
    h('span', { class: 'strip-text', 'aria-hidden': 'true', 'data-testid': 'check-counts' }, `Recent checks: ${ok}/${checks.length} ok`),
  ];
}

function card(c, state, act) {
  const a = c.agent;
  const last = a.lastCheck;
  const uptime = c.uptime24h.percent === null ? '—' : `${c.uptime24h.percent}%`;
  const inMaintenance = a.status === 'maintenance';
  return h(
    'article',
    { class: `card st-${a.status}`, 'aria-label': `${a.name ?? a.id}: ${STATUS_TEXT[a.status]}`, 'data-agent': a.id, 'data-status': a.status },
    h('h4', {}, h('span', {}, a.name ?? a.id), badge(a.status, STATUS_TEXT[a.status])),
    h('div', { class: 'meta' }, `${a.id} · ${a.kind === 'bot' ? a.channel ?? 'bot' : 'action agent'}${a.remote ? ' · remote' : ''}`),
    a.status !== 'up' && a.statusReason ? h('p', { class: 'reason' }, `Why: ${a.statusReason}`) : null,
    h(
      'dl',
      {},
      h('dt', {}, 'Last check'),
      h('dd', {}, last ? `${last.ok ? 'ok' : 'failed'}, ${last.latencyMs} ms at ${time(last.at)}` : 'not yet'),
      h('dt', {}, 'Uptime 24 h'),
      h('dd', {}, `${uptime} (${c.uptime24h.checks} checks)`),
      h('dt', {}, 'Since'),
      h('dd', {}, time(a.statusSince)),
    ),
    checkHistory(c.recentChecks),
    pairingView(state.pairings.get(a.id), a.id),
    h(
      'div',
      { class: 'actions' },
      h('button', { type: 'button', 'aria-pressed': String(inMaintenance), 'aria-label': `Maintenance: ${a.name ?? a.id}`, 'data-key': `maint-${a.id}`, onclick: () => act.maintenance(a.id, !inMaintenance) }, inMaintenance ? 'End maintenance' : 'Maintenance'),
      a.kind === 'bot' ? h('button', { type: 'button', 'aria-label': `Restart ${a.name ?? a.id}`, 'data-key': `restart-${a.id}`, onclick: () => act.restart(a.id) }, 'Restart') : null,
    ),
  );
}

export function renderAgents(state, act, els) {
  const cards = [...state.agents.values()];
  const byStatus = cards.reduce((m, c) => ({ ...m, [c.agent.status]: (m[c.agent.status] ?? 0) + 1 }), {});
  els.summary.textContent = `${cards.length} agents: ${Object.entries(byStatus).map(([s, n]) => `${n} ${STATUS_TEXT[s].toLowerCase()}`).join(', ') || 'none yet'}`;
  const branches = [...state.branches];
  for (const c of cards) if (!branches.some((b) => b.id === c.agent.branchId)) branches.push({ id: c.agent.branchId, name: c.branchName });
  render(
    els.grid,
    branches.map((b) => {
      const mine = cards.filter((c) => c.agent.branchId === b.id);
      return h('section', { class: 'branch', 'aria-label': `Branch ${b.name}` }, h('h3', {}, b.name), mine.length ? h('div', { class: 'grid' }, mine.map((c) => card(c, state, act))) : h('p', { class: 'summary' }, 'No agents.'));
    }),
  );
}
