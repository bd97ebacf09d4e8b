/** The Activity panel: metrics with small charts, conversations with hand-off state, the audit timeline. */
import { badge, h, render, time } from './dom.js';
import { bars, stack } from './charts.js';

const pct = (v) => (v === null || v === undefined ? '—' : `${Math.round(v * 100)}%`);
const secs = (v) => (v === null || v === undefined ? '—' : v < 90 ? `${Math.round(v)} s` : v < 5400 ? `${Math.round(v / 60)} min` : `${(v / 3600).toFixed(1)} h`);
const sum = (xs) => xs.reduce((a, b) => a + b, 0);

function metric(title, value, chart, testid) {
  return h('div', { class: 'metric', 'data-testid': testid }, h('h4', {}, title), h('div', { class: 'value' }, value), chart);
}

export function renderMetrics(m, el) {
  if (!m) return;
  const a = m.agents;
  render(el, [
    metric('Approvals per hour (24 h)', `${m.approvalsPerHour[m.approvalsPerHour.length - 1] ?? 0} in the last hour · ${sum(m.approvalsPerHour)} in 24 h`, bars(m.approvalsPerHour, `Approval requests per hour over 24 hours: ${m.approvalsPerHour.join(', ')}`), 'metric-approvals'),
    metric('Approval rate', pct(m.approvalRate), stack([{ value: Math.round((m.approvalRate ?? 0) * 100), colour: '#18794e', label: 'approved %' }, { value: m.approvalRate === null ? 0 : 100 - Math.round(m.approvalRate * 100), colour: '#c62828', label: 'rejected %' }], `Approval rate ${pct(m.approvalRate)}`), 'metric-rate'),
    metric('Median time to decision', secs(m.medianDecisionSec), null, 'metric-median'),
    metric('Auto-approved share', pct(m.autoApprovedShare), stack([{ value: Math.round((m.autoApprovedShare ?? 0) * 100), colour: '#5b4bb7', label: 'auto %' }, { value: 100 - Math.round((m.autoApprovedShare ?? 0) * 100), colour: '#d9dde5', label: 'by people %' }], `Auto-approved ${pct(m.autoApprovedShare)}`), 'metric-auto'),
    metric('Messages per minute (60 min)', String(m.messagesPerMinute[m.messagesPerMinute.length - 1] ?? 0), bars(m.messagesPerMinute, `Messages per minute over the last hour: ${m.messagesPerMinute.join(', ')}`, '#0f766e'), 'metric-messages'),
    metric(
      'Agents up / down',
      `${a.up} / ${a.down + a.blocked}`,
      stack(
        [
          { value: a.up, colour: '#18794e', label: 'up' },
          { value: a.pending, colour: '#9a6700', label: 'checking' },
          { value: a.maintenance, colour: '#5b4bb7', label: 'maintenance' },
          { value: a.down + a.blocked, colour: '#c62828', label: 'down or blocked' },
        ],
        `Agents: ${a.up} up, ${a.down} down, ${a.blocked} blocked, ${a.pending} checking, ${a.maintenance} in maintenance`,
      ),
      'metric-agents',
    ),
  ]);
}

function messagesView(c, messages) {
  if (messages === null) return h('p', { class: 'meta', role: 'status' }, 'Loading messages…');
  if (messages.length === 0) return h('p', { class: 'meta' }, 'No messages stored.');
  return h(
    'ol',
    { class: 'messages', 'aria-label': `Recent messages with ${c.contactName ?? c.contactId}`, 'data-testid': `messages-${c.id}` },
    messages.map((m) =>
      h(
        'li',
        { class: `msg ${m.direction}` },
        h('span', { class: 'meta' }, `${m.direction === 'in' ? c.contactName ?? 'Customer' : m.handledBy ?? 'bot'} · `, h('time', { datetime: m.at }, time(m.at)), m.status === 'failed' ? ' · not delivered' : ''),
        h('div', {}, m.text),
      ),
    ),
  );
}

export function renderConversations(state, act, el) {
  const list = [...state.conversations.values()].sort((x, y) => y.lastMessageAt.localeCompare(x.lastMessageAt)).slice(0, 50);
  for (const id of state.conversations.keys()) if (!list.some((c) => c.id === id) && !state.openConversations.has(id)) state.conversations.delete(id);
  render(
    el,
    list.length
      ? list.map((c) => {
          const who = c.contactName ?? c.contactId;
          const open = state.openConversations.has(c.id);
          return h(
            'li',
            { 'data-conversation': c.id },
            badge(c.state, c.state === 'pending_human' ? 'waiting for staff' : 'bot'),
            ' ',
            h('strong', {}, who),
            h('span', { class: 'meta' }, ` · ${state.branches.find((b) => b.id === c.branchId)?.name ?? c.branchId} · ${c.channel}`),
            ' ',
            h('time', { datetime: c.lastMessageAt }, time(c.lastMessageAt)),
            h('div', {}, c.lastText),
            c.state === 'pending_human' && c.reason ? h('div', { class: 'meta' }, `Handed to staff: ${c.reason.replaceAll('_', ' ')}`) : null,
            h(
              'div',
              { class: 'actions' },
              h('button', { type: 'button', 'aria-expanded': String(open), 'aria-label': `${open ? 'Hide' : 'Show'} messages with ${who}`, 'data-key': `msgs-${c.id}`, onclick: () => act.toggleMessages(c.id) }, open ? 'Hide messages' : 'Messages'),
              state.canResolve && c.state === 'pending_human'
                ? h('button', { type: 'button', 'aria-label': `Resolve hand-off of ${who}: the bot answers again`, 'data-key': `resolve-${c.id}`, onclick: () => act.resolve(c.id) }, 'Resolve hand-off')
                : null,
            ),
            open ? messagesView(c, state.openConversations.get(c.id)) : null,
          );
        })
      : [h('li', { class: 'meta' }, 'No customer conversations yet.')],
  );
}

export function renderAudit(state, el) {
  render(
    el,
    [...state.audit]
      .reverse()
      .slice(0, 100)
      .map((e) => h('li', { 'data-seq': e.seq }, h('time', { datetime: e.at }, time(e.at)), ' ', h('span', { class: 'type' }, e.type), ` by ${e.actor}`, e.agentId ? ` · ${e.agentId}` : '', e.approvalId ? ` · approval ${state.approvals.get(e.approvalId)?.code ?? e.approvalId.slice(-6)}` : '', e.data?.to ? ` → ${e.data.to}` : '', e.data?.via ? ` via ${e.data.via}` : '')),
  );
}
