import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { io as connectTo, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { RUNNER_EVENTS, type RunnerEventName } from '../../src/branches/runner-protocol.js';
import { sha256 } from '../../src/core/ids.js';
import { hostileValue, nastyString } from './arbitraries.js';
import { auditHead, auditSince, changedCollections, REFUSAL_AUDIT, settle, storeDigest } from './store-digest.js';
import { fakeChannels } from '../helpers/fake-channel.js';
import { ADMIN, addRequester, startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator.js';
import { connected, runnerSocket } from '../helpers/runner-socket.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { until } from '../helpers/until.js';

/**
 * Every Socket.IO handshake and event on both ports under hostile input,
 * driven from the runner protocol's event table (RUNNER_EVENTS): a handshake
 * is admitted only with the right credential on the one namespace each port
 * serves; any payload of any event is refused or applied within the sender's
 * scope, is acknowledged when the table says so, never stops the process,
 * and a refused one changes no stored state (it may only audit the refusal).
 */
const RUNS = Number(process.env.HOSTILE_RUNS ?? 20);
const YAML = `
branches:
  - id: lisboa
    name: Lisboa
    managers: [{ id: ana, name: Ana, role: owner, telegram: 1001 }]
    agents: [{ id: lis-tg, channel: telegram, token: t1 }]
  - id: porto
    name: Porto
    host: remote
    managers: [{ id: carla, name: Carla, role: owner, telegram: 2001 }]
    agents: [{ id: porto-tg, channel: telegram, token: t2 }]
`;
const AGENT = 'hostile-socket-agent-token-001';
const OPERATOR = 'hostile-socket-operator-token1';

/** Every `agentId` a payload names, at any depth. */
function agentIdsIn(value: unknown): unknown[] {
  if (!value || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => (k === 'agentId' ? [v] : agentIdsIn(v)));
}

function settleSocket(socket: Socket, ms = 3000): Promise<'connected' | 'refused'> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('refused'), ms);
    socket.once('connect', () => (clearTimeout(timer), resolve('connected')));
    socket.once('connect_error', () => (clearTimeout(timer), resolve('refused')));
  });
}

describe('hostile input: Socket.IO on the API port (runners and agents)', () => {
  let t: TestCoordinator;
  let runnerToken = '';
  beforeAll(async () => {
    t = await startTestCoordinator({ clock: new ManualClock(Date.now()), yaml: YAML, channels: fakeChannels(['telegram']).registry, env: { HEALTH_INTERVAL_MS: '3600000', SOCKET_MAX_PER_ADDRESS: '1000' } });
    const res = await t.call('/api/runners', { method: 'POST', json: { name: 'r-porto', branches: ['porto'] } });
    runnerToken = res.body.token;
    await addRequester(t, 'agent-a', 'lisboa', AGENT);
    await t.running.store.apiTokens.insert({ id: sha256(OPERATOR), role: 'operator', subject: 'olga', createdAt: new Date().toISOString() });
  });
  afterAll(async () => {
    await t.close();
  });

  it('handshakes: admitted only on /agents with a runner, agent or admin token, in the header and in auth', async () => {
    // The property below would hold vacuously if nothing could connect: the right credential does.
    const ok = runnerSocket(t.url, runnerToken);
    expect(await settleSocket(ok)).toBe('connected');
    ok.disconnect();
    const tokens = () => ({ none: undefined, garbage: '%E0%A4%A', runner: runnerToken, agent: AGENT, operator: OPERATOR, admin: ADMIN });
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/', '/agents', '/admin', '/agents/x', '/%E0%A4%A'),
        fc.constantFrom('none', 'garbage', 'runner', 'agent', 'operator', 'admin'),
        fc.oneof(fc.constantFrom('same', 'none', 'garbage', 'runner'), fc.constant('hostile')),
        hostileValue,
        async (namespace, headerRole, authKind, hostileAuth) => {
          const all = tokens();
          const header = all[headerRole as keyof typeof all];
          const auth = authKind === 'same' ? { token: header } : authKind === 'hostile' ? hostileAuth : authKind === 'runner' ? { token: runnerToken } : authKind === 'garbage' ? { token: '%E0%A4%A' } : {};
          const before = await storeDigest(t.running.store);
          const seq = await auditHead(t.running.store);
          const socket = connectTo(`${t.url}${namespace}`, {
            auth: (auth && typeof auth === 'object' && !Array.isArray(auth) ? auth : { value: auth }) as Record<string, unknown>,
            extraHeaders: header ? { authorization: `Bearer ${header}` } : {},
            transports: ['websocket'],
            reconnection: false,
            forceNew: true,
          });
          const outcome = await settleSocket(socket);
          socket.disconnect();
          const where = `${namespace} header=${headerRole} auth=${JSON.stringify(auth).slice(0, 80)} -> ${outcome}`;
          if (outcome === 'connected') {
            expect({ where, ok: namespace === '/agents' && ['runner', 'agent', 'admin'].includes(headerRole) }).toEqual({ where, ok: true });
          }
          expect({ where, changed: changedCollections(before, await storeDigest(t.running.store)) }).toEqual({ where, changed: [] });
          expect({ where, audited: (await auditSince(t.running.store, seq)).map((e) => e.type).filter((x) => !REFUSAL_AUDIT.test(x)) }).toEqual({ where, audited: [] });
        },
      ),
      { numRuns: RUNS * 2 },
    );
    expect((await t.call('/health', { token: null })).status).toBe(200);
  }, 300_000);

  /** Near-valid payloads per event, whose agent and chat fields are then swapped for others' or hostile ones. */
  const at = new Date().toISOString();
  const BASES: Record<RunnerEventName, unknown> = {
    register: { runner: 'r-porto', agents: ['porto-tg'] },
    event: { type: 'message', message: { agentId: 'porto-tg', channel: 'telegram', chatId: '77', senderId: '77', text: 'hi', at } },
    decide: { agentId: 'porto-tg', channel: 'telegram', approvalId: 'x', decision: 'approve', deciderId: '2001' },
  };
  const foreign = fc.constantFrom('lis-tg', 'agent-a', 'lisboa', 'admin', '', '%E0%A4%A');
  /** Replace one nested field of a base payload with a foreign id or a hostile value. */
  const mutated = (base: unknown) =>
    fc.tuple(fc.nat(), fc.oneof(foreign, nastyString, hostileValue)).map(([pick, value]) => {
      const copy = structuredClone(base) as Record<string, unknown>;
      const paths: Array<[Record<string, unknown>, string]> = [];
      const walk = (o: Record<string, unknown>) => {
        for (const [k, v] of Object.entries(o)) {
          paths.push([o, k]);
          if (v && typeof v === 'object' && !Array.isArray(v)) walk(v as Record<string, unknown>);
        }
      };
      walk(copy);
      const [obj, key] = paths[pick % paths.length];
      obj[key] = value;
      return copy;
    });

  it('every runner event from the table, with any payload: acked when it should be, applied only within scope, never a crash', async () => {
    let socket: Socket | undefined;
    let used = 0;
    const ensure = async () => {
      // Each property sends at most two refused payloads (the value and the ping). The gateway closes a connection
      // past 200 refusals a minute (refusal-flood.test.ts): a fresh connection every 90 properties stays under it.
      if (socket?.connected && used++ < 90) return socket;
      socket?.disconnect();
      if (socket) await settle(t.running.store);
      used = 1;
      socket = runnerSocket(t.url, runnerToken);
      await connected(socket);
      const reply = await socket.timeout(3000).emitWithAck('register', BASES.register);
      expect(reply).toEqual({ ok: true, value: { accepted: ['porto-tg'] } });
      // A (re)connected runner's agents are checked at once (status, incidents): let that finish first.
      await settle(t.running.store);
      return socket;
    };
    const names = Object.keys(RUNNER_EVENTS) as RunnerEventName[];
    for (const name of [...names, 'unknown-event', '__proto__', 'constructor']) {
      const base = Object.hasOwn(BASES, name) ? BASES[name as RunnerEventName] : undefined;
      const payload = base ? fc.oneof(hostileValue, mutated(base), fc.constant(base)) : hostileValue;
      await fc.assert(
        fc.asyncProperty(payload, async (value) => {
          const s = await ensure();
          const store = t.running.store;
          const before = await storeDigest(store);
          const seq = await auditHead(store);
          const where = `${name} ${JSON.stringify(value)?.slice(0, 160)}`;
          const spec = Object.hasOwn(RUNNER_EVENTS, name) ? RUNNER_EVENTS[name as RunnerEventName] : undefined;
          let refused: boolean;
          if (spec?.ack) {
            const reply = (await s.timeout(3000).emitWithAck(name, value).catch((e: Error) => ({ ok: 'no-ack', error: e.message }))) as { ok: unknown };
            expect({ where, acked: reply.ok !== 'no-ack' || !s.connected }).toEqual({ where, acked: true });
            refused = reply.ok !== true;
          } else {
            s.emit(name as 'event', value as never);
            // An event has no ack: it is ours and well-formed, or it must change nothing. A ping round trip orders it.
            await s.timeout(3000).emitWithAck('decide', { bogus: true }).catch(() => undefined);
            const parsed = spec ? spec.payload.safeParse(value) : undefined;
            const named = parsed?.success ? agentIdsIn(parsed.data) : [];
            refused = !(named.length > 0 && named.every((id) => id === 'porto-tg'));
          }
          // An accepted message runs the conversation pipeline after its ack: wait for its queue, then for the store to be quiet.
          if (!refused) await t.running.coordinator.conversations.idle().then(() => settle(store));
          else {
            expect({ where, changed: changedCollections(before, await storeDigest(store)) }).toEqual({ where, changed: [] });
            expect({ where, audited: (await auditSince(store, seq)).map((e) => e.type).filter((x) => !REFUSAL_AUDIT.test(x)) }).toEqual({ where, audited: [] });
          }
        }),
        { numRuns: RUNS },
      );
    }
    socket?.disconnect();
    // Nothing reached lisboa's bot or its contacts.
    expect(await t.running.store.contacts.count({ branchId: 'lisboa' })).toBe(0);
    expect((await t.call('/health', { token: null })).status).toBe(200);
  }, 300_000);

  it('raw Socket.IO frames (bad packets, deep nesting, binary junk) close that connection only', async () => {
    const url = t.url.replace('http', 'ws') + '/socket.io/?EIO=4&transport=websocket';
    const frames = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.constantFrom('40/agents,', '42/agents,["disconnect",1]', '42/agents,["connect",{}]', '42/agents,["newListener","x"]', '40/agents,{"token":1}', '42/agents,["event",' + '['.repeat(5000) + ']'.repeat(5000) + ']', '42/agents,["register",{"runner":"x","agents":' + '['.repeat(3000) + ']'.repeat(3000) + '}]', '451-/agents,["event",{"_placeholder":true,"num":99}]', '2probe', '4', '6', '1', 'x'.repeat(300_000)),
      hostileValue.map((v) => `42/agents,${JSON.stringify(['event', v])}`),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(frames, { minLength: 1, maxLength: 4 }), async (list) => {
        const ws = new WebSocket(url, { headers: { authorization: `Bearer ${runnerToken}` } });
        await new Promise<void>((resolve) => {
          ws.once('open', () => {
            ws.send(`40/agents,${JSON.stringify({ token: runnerToken })}`);
            for (const f of list) ws.send(f);
            setTimeout(() => resolve(), 50);
          });
          ws.once('error', () => resolve());
        });
        ws.terminate();
        expect((await t.call('/health', { token: null })).status).toBe(200);
      }),
      { numRuns: RUNS },
    );
  }, 300_000);
});

describe('hostile input: Socket.IO on the dashboard port', () => {
  let t: TestCoordinator;
  let cookie = '';
  beforeAll(async () => {
    t = await startTestCoordinator({ clock: new ManualClock(Date.now()), yaml: YAML, channels: fakeChannels(['telegram']).registry, env: { HEALTH_INTERVAL_MS: '3600000', SOCKET_MAX_PER_ADDRESS: '1000' } });
    const res = await fetch(`${t.running.dashboard.url}/login`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-requested-with': 'dashboard' }, body: JSON.stringify({ token: ADMIN }) });
    cookie = (res.headers.get('set-cookie') ?? '').split(';')[0];
    expect(cookie).toMatch(/^coord_session=/);
  });
  afterAll(async () => {
    await t.close();
  });

  it('handshakes with hostile cookies, origins and namespaces are refused; only a signed-in, same-origin page connects', async () => {
    const base = t.running.dashboard.url;
    const ok = connectTo(base, { extraHeaders: { cookie, origin: base }, transports: ['websocket'], reconnection: false, forceNew: true });
    expect(await settleSocket(ok)).toBe('connected');
    ok.disconnect();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.constantFrom('valid', 'none', 'coord_session=%E0%A4%A', 'coord_session=%', 'coord_session=a.b', '%E0%A4%A=x', 'coord_session=' + 'a'.repeat(8000)), nastyString.map((s) => `coord_session=${s}`)),
        fc.constantFrom(undefined, 'same', 'http://evil.example', 'null', '%E0%A4%A'),
        fc.constantFrom('/', '/admin', '/agents'),
        async (cookieKind, origin, namespace) => {
          const headers: Record<string, string> = {};
          if (cookieKind === 'valid') headers.cookie = cookie;
          else if (cookieKind !== 'none' && /^[\x20-\x7e]*$/.test(cookieKind)) headers.cookie = cookieKind;
          if (origin) headers.origin = origin === 'same' ? base : origin;
          const socket = connectTo(`${base}${namespace}`, { extraHeaders: headers, transports: ['websocket'], reconnection: false, forceNew: true });
          const outcome = await settleSocket(socket);
          socket.disconnect();
          const where = `${namespace} cookie=${cookieKind.slice(0, 40)} origin=${origin} -> ${outcome}`;
          if (outcome === 'connected') expect({ where, ok: namespace === '/' && cookieKind === 'valid' && (origin === undefined || origin === 'same') }).toEqual({ where, ok: true });
        },
      ),
      { numRuns: RUNS * 2 },
    );
    expect((await fetch(`${base}/api-url`)).status).toBe(200);
  }, 300_000);

  it('a signed-in page emitting any event with any payload changes nothing and stays served', async () => {
    const base = t.running.dashboard.url;
    const socket = connectTo(base, { extraHeaders: { cookie }, transports: ['websocket'], reconnection: false, forceNew: true });
    expect(await settleSocket(socket)).toBe('connected');
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.constantFrom('snapshot', 'approve', 'decision', 'login', 'disconnecting', 'error', '__proto__'), nastyString), hostileValue, async (name, value) => {
        const before = await storeDigest(t.running.store);
        try {
          socket.emit(name, value);
        } catch {
          // The client refuses reserved event names itself: nothing was sent.
        }
        await until('the page still served', async () => (await fetch(`${base}/api-url`)).status === 200);
        expect(await storeDigest(t.running.store)).toBe(before);
      }),
      { numRuns: RUNS },
    );
    socket.disconnect();
  }, 300_000);
});
