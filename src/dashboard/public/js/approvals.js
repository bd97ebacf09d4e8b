/* global document, CSS */
/** The Approvals panel: filtered queue, decisions (single and bulk), countdowns, learned rules. */
import { badge, duration, h, render, time } from './dom.js';

/** Items rendered at once (the DOM stays light with 1,000 pending requests); filters narrow the rest. */
export const SHOWN = 200;

function approvedByMe(state, a) {
  return Boolean(state.me?.managerId) && (a.approvals ?? []).some((x) => x.by === state.me.managerId);
}

export function canDecide(state, a) {
  return a.status === 'pending' && (state.me?.canDecide?.[a.branchId] ?? []).includes(a.riskLevel);
}

function whyNot(state, a) {
  if (a.status !== 'pending') return null;
  if (state.me?.decideNote) return null;
  // The policy's own words: "Ana is not a manager at Porto Ribeira.", or which role the risk needs there.
  return state.me?.cannotDecide?.[a.branchId]?.[a.riskLevel] ?? `You may not decide ${a.riskLevel}-risk requests at this branch.`;
}

function decidedLine(a) {
  const d = a.decision;
  if (!d) return null;
  const who = d.byName ?? d.by;
  const text = d.by === 'policy' ? `Auto-approved by policy (${d.rule ?? 'rule'})` : `${d.outcome[0].toUpperCase()}${d.outcome.slice(1)} by ${who} via ${d.via} at ${a.shown?.decided ?? time(d.at)}`;
  return h('p', { class: 'decided', 'data-testid': 'decided' }, text, d.reason ? ` — “${d.reason}”` : '');
}

function item(a, state, act) {
  const mayDecide = canDecide(state, a);
  const branch = state.branches.find((b) => b.id === a.branchId)?.name ?? a.branchId;
  const label = `${a.code}: ${a.summary}`;
  return h(
    'li',
    { class: `approval risk-${a.riskLevel}`, 'data-approval': a.id, 'data-status': a.status, tabindex: '-1' },
    h('div', {}, mayDecide ? h('input', { type: 'checkbox', 'aria-label': `Select ${label}`, 'data-key': `sel-${a.id}`, checked: state.selected.has(a.id), onchange: (e) => act.select(a.id, e.target.checked) }) : null),
    h(
      'div',
      { class: 'body' },
      h('div', { class: 'head' }, h('strong', {}, a.code), badge(a.riskLevel, `${a.riskLevel} risk`), badge(a.status), h('span', { class: 'meta' }, `${a.actionType} · ${branch}`)),
      h('p', { class: 'summary-text' }, a.summary),
      // What will happen: a built-in action's preview (recipient and exact text) or the details as key: value lines, as text.
      a.shown?.what ? h('pre', { class: 'what', 'data-testid': 'what' }, a.shown.what) : null,
      h(
        'p',
        { class: 'meta' },
        // Times in the branch's zone, with the zone (as on every chat copy).
        `Requested by ${a.requesterId} at ${a.shown?.created ?? time(a.createdAt)}`,
        a.status === 'pending' ? h('span', {}, ' · expires in ', h('span', { 'data-expires': a.expiresAt }, duration(Date.parse(a.expiresAt) - Date.now())), a.shown ? ` (${a.shown.expires})` : '') : null,
      ),
      (a.shown?.progress ?? []).length ? h('p', { class: 'meta progress', 'data-testid': 'progress' }, a.shown.progress.join(' ')) : null,
      decidedLine(a),
      mayDecide
        ? h(
            'div',
            { class: 'actions' },
            // n-of-m: someone who already approved waits for the others (they may still reject).
            approvedByMe(state, a)
              ? h('span', { class: 'meta', 'data-key': `mine-${a.id}` }, 'You approved; waiting for another approver.')
              : h('button', { type: 'button', class: 'approve', 'data-key': `approve-${a.id}`, 'aria-label': `Approve ${label}`, onclick: () => act.decide([a.id], 'approve') }, 'Approve'),
            h('button', { type: 'button', class: 'reject', 'data-key': `reject-${a.id}`, 'aria-label': `Reject ${label}`, onclick: () => act.decide([a.id], 'reject') }, 'Reject'),
          )
        : whyNot(state, a)
          ? h('p', { class: 'meta' }, whyNot(state, a))
          : null,
    ),
  );
}

/** Pending first, the soonest to expire on top (the urgent ones are always shown); then decided ones, newest first. */
function byUrgency(x, y) {
  const px = x.status === 'pending';
  if (px !== (y.status === 'pending')) return px ? -1 : 1;
  return px ? x.expiresAt.localeCompare(y.expiresAt) : y.createdAt.localeCompare(x.createdAt);
}

export function visibleApprovals(state) {
  const f = state.filters;
  return [...state.approvals.values()].filter((a) => (!f.branch || a.branchId === f.branch) && (!f.risk || a.riskLevel === f.risk) && (!f.status || a.status === f.status)).sort(byUrgency);
}

/**
 * After a decision the decided item loses its buttons (or leaves the list), which
 * would drop keyboard focus on the page body: move it to the next item still
 * shown (its Approve button, else the item), else the list's heading.
 */
function refocus({ ids, order, origin }, list, heading) {
  const active = document.activeElement;
  if (active && active !== document.body && active !== origin) return; // the operator has moved on
  const from = Math.max(...ids.map((id) => order.indexOf(id)));
  const next = [...order.slice(from + 1), ...order.slice(0, Math.max(0, from)).reverse()].filter((id) => !ids.includes(id));
  for (const id of next) {
    const li = list.querySelector(`[data-approval="${CSS.escape(id)}"]`);
    if (li) return (li.querySelector('button.approve') ?? li).focus();
  }
  heading.focus();
}

function ruleItem(r, state, act) {
  const branch = state.branches.find((b) => b.id === r.branchId)?.name ?? r.branchId;
  const what = `${r.actionType} at ${branch}`;
  const mayManage = state.me?.canManageRules?.includes(r.branchId);
  return h(
    'li',
    { 'data-rule': r.id },
    badge(r.status === 'active' ? 'approved' : r.status === 'revoked' ? 'cancelled' : 'pending', r.status),
    h('span', {}, `Auto-approve ${what} (after ${r.streak} approvals in a row)`),
    r.decidedBy ? h('span', { class: 'meta' }, `${r.status} by ${r.decidedBy} ${time(r.decidedAt)}`) : null,
    mayManage && r.status === 'suggested' ? h('button', { type: 'button', 'data-key': `accept-${r.id}`, 'aria-label': `Accept suggestion: ${what}`, onclick: () => act.rule(r.id, 'accept') }, 'Accept suggestion') : null,
    mayManage && r.status === 'active' ? h('button', { type: 'button', 'data-key': `revoke-${r.id}`, 'aria-label': `Revoke rule: ${what}`, onclick: () => act.rule(r.id, 'revoke') }, 'Revoke') : null,
  );
}

export function renderApprovals(state, act, els) {
  const list = visibleApprovals(state);
  const shown = list.slice(0, SHOWN);
  render(els.list, shown.length ? shown.map((a) => item(a, state, act)) : [h('li', { class: 'meta' }, 'No approval requests match these filters.')]);
  const pending = [...state.approvals.values()].filter((a) => a.status === 'pending').length + state.pendingHidden;
  els.count.textContent = pending ? String(pending) : '';
  els.count.setAttribute('aria-label', `${pending} pending`);
  const notes = [];
  if (list.length > shown.length) notes.push(`Showing ${shown.length} of ${list.length}, pending ones expiring soonest first: narrow the filters to see the others.`);
  if (state.pendingHidden > 0) notes.push(`${state.pendingHidden} more pending requests, expiring later than these, are not loaded here; they appear as these are decided and the page reloads.`);
  els.more.textContent = notes.join(' ');
  els.more.hidden = notes.length === 0;
  const decidable = shown.filter((a) => canDecide(state, a)).map((a) => a.id);
  els.selectAll.hidden = decidable.length < 2;
  const box = els.selectAll.querySelector('input');
  box.checked = decidable.length > 0 && decidable.every((id) => state.selected.has(id));
  box.indeterminate = !box.checked && decidable.some((id) => state.selected.has(id));
  box.onchange = () => act.selectAll(decidable, box.checked);
  for (const id of [...state.selected]) if (!state.approvals.get(id) || !canDecide(state, state.approvals.get(id))) state.selected.delete(id);
  els.bulk.hidden = state.selected.size === 0;
  els.bulkCount.textContent = `${state.selected.size} selected`;
  if (state.refocus) refocus(state.refocus, els.list, els.heading);
  state.refocus = null;
  render(els.rules, state.rules.length ? state.rules.map((r) => ruleItem(r, state, act)) : [h('li', { class: 'meta' }, 'No suggestions yet: they appear after a run of approvals of one action type at one branch.')]);
}

/** Updates countdown texts in place (every second) without re-rendering. */
export function tickCountdowns(root) {
  for (const el of root.querySelectorAll('[data-expires]')) el.textContent = duration(Date.parse(el.getAttribute('data-expires')) - Date.now());
}
