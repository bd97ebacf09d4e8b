/* global document, Option */
/** The dashboard page: sign-in, the live socket, state, and wiring of the three panels. */
import { io } from '/socket.io/socket.io.esm.min.js';
import { get, post } from './api.js';
import { renderAgents } from './agents.js';
import { renderApprovals, SHOWN, tickCountdowns, visibleApprovals } from './approvals.js';
import { renderAudit, renderConversations, renderMetrics } from './activity.js';

/** Ids per bulk request (the server's limit). */
const BULK_CHUNK = 200;
/** Decided requests kept in memory besides every pending one (a long-open page does not grow without end). */
const KEEP_DECIDED = 300;

const $ = (id) => document.getElementById(id);
const state = {
  me: null,
  branches: [],
  agents: new Map(),
  approvals: new Map(),
  rules: [],
  audit: [],
  conversations: new Map(),
  pairings: new Map(),
  metrics: null,
  filters: { branch: '', risk: '', status: 'pending' },
  selected: new Set(),
  /** Pending requests the server has but did not send (past its limit), as of its last count. */
  pendingHidden: 0,
  /** Where keyboard focus goes after a decision (see approvals.js). */
  refocus: null,
  canResolve: false,
  /** Conversations whose messages are shown: id → messages (null while loading). */
  openConversations: new Map(),
};
let socket = null;
let reconnectTimer = null;

const say = (text) => ($('action-status').textContent = text);
function failed(error) {
  if (error.status === 401) {
    endSession('Your session ended: sign in again.');
    return;
  }
  say(`Failed: ${error.message}`);
}

// --- rendering, batched per animation frame -------------------------------
const dirty = new Set();
function refresh(...panels) {
  for (const p of panels) dirty.add(p);
  document.defaultView.requestAnimationFrame(() => {
    if (dirty.has('agents')) renderAgents(state, actions, { grid: $('agents-grid'), summary: $('agents-summary') });
    if (dirty.has('approvals')) renderApprovals(state, actions, { list: $('approvals-list'), heading: $('requests-title'), count: $('pending-count'), bulk: $('bulk'), bulkCount: $('bulk-count'), rules: $('rules-list'), more: $('approvals-more'), selectAll: $('select-all') });
    if (dirty.has('metrics')) renderMetrics(state.metrics, $('metrics'));
    if (dirty.has('conversations')) renderConversations(state, actions, $('conversations-list'));
    if (dirty.has('audit')) renderAudit(state, $('audit-list'));
    dirty.clear();
  });
}
const all = () => refresh('agents', 'approvals', 'metrics', 'conversations', 'audit');

// --- operator actions ------------------------------------------------------
const rejectDialog = $('reject-dialog');
function askReason(ids) {
  $('reject-what').textContent = ids.length === 1 ? `Reject ${state.approvals.get(ids[0])?.code}: ${state.approvals.get(ids[0])?.summary}` : `Reject ${ids.length} requests`;
  $('reject-reason').value = '';
  // Escape closes a dialog without touching returnValue: clear the last answer, or Escape would repeat a "confirm".
  rejectDialog.returnValue = '';
  rejectDialog.showModal();
  return new Promise((resolve) => rejectDialog.addEventListener('close', () => resolve(rejectDialog.returnValue === 'confirm' ? $('reject-reason').value.trim() : null), { once: true }));
}

const actions = {
  select(id, on) {
    if (on) state.selected.add(id);
    else state.selected.delete(id);
    refresh('approvals');
  },
  async decide(ids, decision) {
    const origin = document.activeElement;
    const order = visibleApprovals(state).slice(0, SHOWN).map((a) => a.id);
    let reason;
    if (decision === 'reject') {
      reason = await askReason(ids);
      if (reason === null) return;
    }
    const body = { decision, ...(reason ? { reason } : {}) };
    try {
      if (ids.length === 1) {
        const { approval } = await post(`/api/approvals/${encodeURIComponent(ids[0])}/decision`, body);
        state.approvals.set(approval.id, approval);
        say(approval.status === 'pending' ? `${approval.code}: your approval is recorded; it waits for another approver` : `${approval.code}: ${approval.status}`);
      } else {
        const results = [];
        for (let i = 0; i < ids.length; i += BULK_CHUNK) results.push(...(await post('/api/approvals/bulk', { ...body, ids: ids.slice(i, i + BULK_CHUNK) })).results);
        say(bulkOutcome(results, decision));
      }
      for (const id of ids) state.selected.delete(id);
      state.refocus = { ids, order, origin };
      refresh('approvals');
    } catch (error) {
      failed(error);
    }
  },
  async maintenance(agentId, enabled) {
    try {
      const { agent } = await post(`/api/agents/${encodeURIComponent(agentId)}/maintenance`, { enabled });
      if (agent) state.agents.set(agent.agent.id, agent);
      refresh('agents');
    } catch (error) {
      failed(error);
    }
  },
  async restart(agentId) {
    try {
      const { agent } = await post(`/api/agents/${encodeURIComponent(agentId)}/restart`);
      if (agent) state.agents.set(agent.agent.id, agent);
      refresh('agents');
    } catch (error) {
      failed(error);
    }
  },
  selectAll(ids, on) {
    for (const id of ids) {
      if (on) state.selected.add(id);
      else state.selected.delete(id);
    }
    refresh('approvals');
  },
  async toggleMessages(id) {
    if (state.openConversations.has(id)) {
      state.openConversations.delete(id);
      refresh('conversations');
      return;
    }
    state.openConversations.set(id, null);
    refresh('conversations');
    await loadMessages(id);
  },
  async resolve(id) {
    try {
      const { conversation } = await post(`/api/conversations/${encodeURIComponent(id)}/resolve`);
      state.conversations.set(conversation.id, conversation);
      say(`${conversation.contactName ?? conversation.contactId}: back to the bot`);
      refresh('conversations');
    } catch (error) {
      failed(error);
    }
  },
  async rule(ruleId, action) {
    try {
      const { rule } = await post(`/api/rules/${encodeURIComponent(ruleId)}/${action}`);
      state.rules = state.rules.map((r) => (r.id === rule.id ? rule : r));
      refresh('approvals');
    } catch (error) {
      failed(error);
    }
  },
};

/** "3 of 4 approved; 1 recorded, waiting for another approver" (n-of-m requests are not failures). */
function bulkOutcome(results, decision) {
  const decided = results.filter((r) => r.result === 'decided').length;
  const recorded = results.filter((r) => r.result === 'recorded').length;
  const others = results.filter((r) => r.result !== 'decided' && r.result !== 'recorded');
  const code = (id) => state.approvals.get(id)?.code ?? id;
  const why = (r) => `${code(r.id)}: ${r.result === 'too_late' ? `too late, already ${r.status}` : r.error?.message ?? r.result}`;
  return [
    `${decided} of ${results.length} ${decision === 'approve' ? 'approved' : 'rejected'}`,
    recorded ? `${recorded} recorded, waiting for another approver` : null,
    others.length ? `not decided: ${others.map(why).join('; ')}` : null,
  ]
    .filter(Boolean)
    .join('; ');
}

async function loadMessages(id) {
  try {
    const { messages } = await get(`/api/conversations/${encodeURIComponent(id)}/messages`);
    if (state.openConversations.has(id)) state.openConversations.set(id, messages);
  } catch (error) {
    state.openConversations.delete(id);
    failed(error);
  }
  refresh('conversations');
}

/** Keeps every pending request and the most recent decided ones. */
function pruneApprovals() {
  const decided = [...state.approvals.values()].filter((a) => a.status !== 'pending');
  if (decided.length <= KEEP_DECIDED) return;
  decided.sort((x, y) => y.createdAt.localeCompare(x.createdAt));
  for (const a of decided.slice(KEEP_DECIDED)) state.approvals.delete(a.id);
}

// --- live socket -------------------------------------------------------------
function setLive(text, on) {
  $('live').textContent = text;
  $('live').classList.toggle('on', on);
}

function connect() {
  clearTimeout(reconnectTimer);
  socket?.disconnect();
  socket = io({ withCredentials: true, transports: ['websocket', 'polling'] });
  socket.on('connect', () => setLive('Live', true));
  socket.on('disconnect', (reason) => {
    setLive('Reconnecting…', false);
    // The server closed this connection (session ended, signed out elsewhere, coordinator stopping):
    // Socket.IO does not retry that by itself. Try again; a refused session then shows the sign-in form.
    if (reason === 'io server disconnect') reconnectTimer = setTimeout(() => socket.connect(), 500 + Math.random() * 1500);
  });
  socket.on('connect_error', (error) => {
    if (String(error.message).startsWith('unauthorized')) {
      endSession('Your session ended: sign in again.');
      return;
    }
    setLive('Reconnecting…', false);
    // The server refuses a handshake without a valid session before Socket.IO starts, so the browser only
    // sees "websocket error": ask whether the session still holds (a 401 shows the sign-in form).
    get('/api/me').then(
      () => undefined,
      (failure) => {
        if (failure.status === 401) endSession('Your session ended: sign in again.');
        // Otherwise the server is unreachable or restarting: Socket.IO keeps retrying and "Reconnecting…" says so.
      },
    );
  });
  socket.on('me', (me) => {
    state.me = me;
    showUser();
    refresh('approvals');
  });
  socket.on('snapshot', (s) => {
    state.branches = s.branches;
    state.agents = new Map(s.agents.map((c) => [c.agent.id, c]));
    state.approvals = new Map(s.approvals.map((a) => [a.id, a]));
    state.pendingHidden = Math.max(0, (s.pendingTotal ?? 0) - s.approvals.filter((a) => a.status === 'pending').length);
    state.canResolve = Boolean(s.canResolve);
    state.rules = s.rules;
    state.audit = s.audit;
    state.conversations = new Map(s.conversations.map((c) => [c.id, c]));
    state.pairings = new Map((s.pairings ?? []).map((p) => [p.agentId, p]));
    state.metrics = s.metrics;
    fillBranchFilter();
    all();
  });
  socket.on('agent', (card) => {
    state.agents.set(card.agent.id, card);
    if (card.agent.status === 'up') state.pairings.delete(card.agent.id);
    refresh('agents');
  });
  socket.on('agents', (cards) => {
    state.agents = new Map(cards.map((c) => [c.agent.id, c]));
    refresh('agents');
  });
  socket.on('pairing', (p) => {
    if (p.paired || p.ended) state.pairings.delete(p.agentId);
    else state.pairings.set(p.agentId, p);
    refresh('agents');
  });
  socket.on('approval', (a) => {
    state.approvals.set(a.id, a);
    if (state.approvals.size > KEEP_DECIDED * 2) pruneApprovals();
    refresh('approvals');
  });
  socket.on('pending', ({ pendingTotal }) => {
    const loaded = [...state.approvals.values()].filter((a) => a.status === 'pending').length;
    state.pendingHidden = Math.max(0, pendingTotal - loaded);
    refresh('approvals');
  });
  socket.on('rules', (rules) => {
    state.rules = rules;
    refresh('approvals');
  });
  socket.on('audit', (events) => {
    const last = state.audit.at(-1)?.seq ?? 0;
    state.audit = [...state.audit, ...events.filter((e) => e.seq > last)].slice(-200);
    refresh('audit');
  });
  socket.on('conversation', (c) => {
    state.conversations.set(c.id, c);
    if (state.openConversations.has(c.id)) void loadMessages(c.id);
    refresh('conversations');
  });
  socket.on('metrics', (m) => {
    state.metrics = m;
    refresh('metrics');
  });
}

// --- sign-in -------------------------------------------------------------------
function endSession(message) {
  clearTimeout(reconnectTimer);
  socket?.disconnect();
  socket = null;
  showLogin(message);
}

function showLogin(message = '') {
  $('app').hidden = true;
  $('logout').hidden = true;
  $('logout-error').hidden = true;
  $('who').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message;
  setLive('Not connected', false);
  $('username').focus();
}

function showUser() {
  $('who').hidden = false;
  $('who').textContent = `${state.me.name}${state.me.managerId ? ` (manager ${state.me.managerId})` : state.me.kind === 'admin' ? ' (admin token)' : ' (view only)'}`;
  $('logout').hidden = false;
  $('decide-note').hidden = !state.me.decideNote;
  $('decide-note').textContent = state.me.decideNote ?? '';
}

function showApp(me) {
  state.me = me;
  $('login').hidden = true;
  $('app').hidden = false;
  showUser();
  connect();
}

async function signIn(body) {
  try {
    const { user } = await post('/login', body);
    $('password').value = '';
    $('token').value = '';
    showApp(user);
    document.querySelector('[role=tab][aria-selected=true]').focus();
  } catch (error) {
    $('login-error').textContent = error.status === 429 ? error.message : error.status === 401 ? 'Wrong username or password.' : `Sign-in failed: ${error.message}`;
  }
}

$('login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  void signIn({ username: $('username').value, password: $('password').value });
});
$('token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  void signIn({ token: $('token').value });
});
$('logout').addEventListener('click', async () => {
  const problem = $('logout-error');
  problem.hidden = true;
  try {
    await post('/logout');
  } catch (error) {
    // 401: the session had already ended, so the user is signed out anyway. Anything else (network, server
    // error): the session cookie is HttpOnly, so the server still honours it; say so and stay signed in.
    if (error.status !== 401) {
      problem.textContent = `Sign-out failed (${error.message}): you are still signed in. Try again.`;
      problem.hidden = false;
      return;
    }
  }
  endSession('Signed out.');
});

// --- tabs (arrow keys move between them, as WAI-ARIA tabs do) ------------------------------
const tabs = [...document.querySelectorAll('[role=tab]')];
function selectTab(tab) {
  for (const t of tabs) {
    const on = t === tab;
    t.setAttribute('aria-selected', String(on));
    t.tabIndex = on ? 0 : -1;
    $(t.getAttribute('aria-controls')).hidden = !on;
  }
}
for (const tab of tabs) {
  tab.addEventListener('click', () => selectTab(tab));
  tab.addEventListener('keydown', (e) => {
    const i = tabs.indexOf(tab);
    const next = { ArrowRight: tabs[(i + 1) % tabs.length], ArrowLeft: tabs[(i - 1 + tabs.length) % tabs.length], Home: tabs[0], End: tabs[tabs.length - 1] }[e.key];
    if (next) {
      e.preventDefault();
      selectTab(next);
      next.focus();
    }
  });
}

// --- filters and bulk ------------------------------------------------------------------
function fillBranchFilter() {
  const select = $('f-branch');
  const current = select.value;
  select.replaceChildren(new Option('All', ''), ...state.branches.map((b) => new Option(b.name, b.id)));
  select.value = current;
}
for (const [id, key] of [['f-branch', 'branch'], ['f-risk', 'risk'], ['f-status', 'status']]) {
  $(id).addEventListener('change', (e) => {
    state.filters[key] = e.target.value;
    refresh('approvals');
  });
}
$('bulk-approve').addEventListener('click', () => actions.decide([...state.selected], 'approve'));
$('bulk-reject').addEventListener('click', () => actions.decide([...state.selected], 'reject'));
$('bulk-clear').addEventListener('click', () => {
  state.selected.clear();
  refresh('approvals');
});

setInterval(() => tickCountdowns($('approvals-list')), 1000);

get('/api/me').then(
  ({ user }) => showApp(user),
  () => showLogin(),
);
