import { afterEach, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AgentHosts } from '../../src/branches/agent-host.js';
import { OutboundPolicy, type Resolver } from '../../src/coordination/approvals/outbound-guard.js';
import { signBody, WebhookOutbox } from '../../src/coordination/approvals/webhook-outbox.js';
import { createProber } from '../../src/coordination/probes.js';
import { systemClock } from '../../src/core/clock.js';
import type { AgentRecord } from '../../src/storage/records.js';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import { memoryLogger } from '../helpers/quiet-logger.js';
import { tempDir } from '../helpers/temp-dir.js';
import { startTestCoordinator } from '../helpers/test-coordinator.js';
import { until } from '../helpers/until.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A real HTTP listener on 127.0.0.1 that records every request it gets. */
async function listener() {
  const got: Array<{ method?: string; url?: string; headers: IncomingHttpHeaders; body: string }> = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      got.push({ method: req.method, url: req.url, headers: req.headers, body });
      res.statusCode = 204;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return { port: (server.address() as AddressInfo).port, got };
}

async function outboxSetup(allowlist: string[], resolve?: Resolver) {
  const dir = tempDir();
  const store = SqliteStore.open({ dataDir: dir.path });
  cleanups.push(dir.cleanup, () => store.close());
  const { logger, entries } = memoryLogger();
  const outbox = new WebhookOutbox({ store, clock: systemClock, logger, allowlist, resolve, timeoutMs: 2000 });
  cleanups.push(() => outbox.stop());
  await store.agents.insert({ id: 'refunds', branchId: 'lisboa', kind: 'action', status: 'up', dependsOn: [], registeredAt: new Date().toISOString(), source: 'api', callbackSecret: 's'.repeat(64) });
  const settled = (id: string) => until(`outbox item ${id} to settle`, async () => {
    const item = await store.outbox.get(id);
    return item && item.status !== 'pending' ? item : undefined;
  });
  return { store, outbox, entries, settled };
}

describe('outbound calls refuse internal addresses (SSRF)', () => {
  it('fails a webhook to each internal form at once, with the reason, and no request reaches the listener', async () => {
    const { port, got } = await listener();
    const { outbox, entries, settled } = await outboxSetup([]);
    const cases: Array<[string, RegExp]> = [
      [`http://127.0.0.1:${port}/hook`, /127\.0\.0\.1 is a loopback address \(127\.0\.0\.0\/8\)/],
      [`http://localhost:${port}/hook`, /localhost resolves to .* loopback/],
      [`http://2130706433:${port}/hook`, /127\.0\.0\.1 is a loopback address/],
      [`http://0x7f.0.0.1:${port}/hook`, /loopback/],
      [`http://127.1:${port}/hook`, /loopback/],
      [`http://0.0.0.0:${port}/hook`, /unspecified/],
      [`http://[::1]:${port}/hook`, /::1 is the loopback address/],
      [`http://[::ffff:127.0.0.1]:${port}/hook`, /IPv4-mapped 127\.0\.0\.1, a loopback address/],
      [`http://[64:ff9b::7f00:1]:${port}/hook`, /NAT64 127\.0\.0\.1, a loopback address/],
      [`http://[2002:7f00:1::1]:${port}/hook`, /6to4 127\.0\.0\.1, a loopback address/],
      [`http://[::127.0.0.1]:${port}/hook`, /IPv4-compatible/],
      ['http://127.0.0.1:6379/', /loopback/],
      ['http://169.254.169.254/latest/meta-data/', /the cloud metadata service/],
      ['http://[fd00:ec2::254]/latest/meta-data/', /the cloud metadata service/],
      ['http://[::ffff:169.254.169.254]/', /IPv4-mapped 169\.254\.169\.254, the cloud metadata service/],
      ['http://10.1.2.3/', /a private address \(10\.0\.0\.0\/8\)/],
      ['http://172.20.0.1/', /a private address/],
      ['http://192.168.1.1/', /a private address/],
      ['http://100.64.0.1/', /carrier-grade NAT/],
      ['http://169.254.10.1/', /link-local/],
      ['http://[fc00::1]/', /unique-local/],
      ['http://[fe80::1]/', /link-local/],
      ['http://224.0.0.1/', /multicast/],
      ['http://[ff02::1]/', /multicast/],
      ['http://255.255.255.255/', /reserved or broadcast/],
      ['ftp://example.com/', /only http and https/],
    ];
    for (const [url, why] of cases) {
      const item = await settled((await outbox.enqueue('refunds', url, { event: 'approval.approved' })).id);
      expect({ url, status: item.status, attempts: item.attempts }).toEqual({ url, status: 'failed', attempts: 1 });
      expect({ url, lastError: item.lastError }).toEqual({ url, lastError: expect.stringMatching(new RegExp(`^refused: .*${why.source}`)) });
    }
    expect(got).toEqual([]);
    expect(entries.filter((e) => e.level === 'warn' && /refused: .*; not retried$/.test(String(e.message)))).toHaveLength(cases.length);
  });

  it('checks at send time, on the address it connects to: a DNS answer that changes after the request-time check is refused', async () => {
    const { port, got } = await listener();
    let answers = 0;
    // A rebinding DNS server: a public address for the first question, loopback afterwards.
    const rebinding: Resolver = async () => (answers++ === 0 ? [{ address: '93.184.216.34', family: 4 }] : [{ address: '127.0.0.1', family: 4 }]);
    const url = `http://rebind.example:${port}/hook`;
    expect(await new OutboundPolicy([], { resolve: rebinding }).check(url)).toBeNull();
    const { outbox, settled } = await outboxSetup([], rebinding);
    const item = await settled((await outbox.enqueue('refunds', url, { event: 'approval.approved' })).id);
    expect(item).toMatchObject({ status: 'failed', attempts: 1, lastError: 'refused: rebind.example resolves to 127.0.0.1, a loopback address (127.0.0.0/8): calls to internal addresses are refused (list it in WEBHOOK_ALLOWLIST to allow it)' });
    // An answer mixing a public and an internal address is refused as a whole.
    const mixed: Resolver = async () => [{ address: '93.184.216.34', family: 4 }, { address: '10.0.0.5', family: 4 }];
    expect(await new OutboundPolicy([], { resolve: mixed }).check('http://mixed.example/')).toMatch(/^mixed\.example resolves to 10\.0\.0\.5, a private address/);
    expect(got).toEqual([]);
  });

  it('delivers to an allow-listed address (in IPv4-mapped form too), signed', async () => {
    const { port, got } = await listener();
    const { outbox, settled } = await outboxSetup(['127.0.0.0/8']);
    for (const url of [`http://127.0.0.1:${port}/hook`, `http://[::ffff:127.0.0.1]:${port}/hook`]) {
      expect(await settled((await outbox.enqueue('refunds', url, { event: 'approval.approved' })).id)).toMatchObject({ status: 'delivered', attempts: 1 });
    }
    expect(got).toHaveLength(2);
    expect(got[0]).toMatchObject({ method: 'POST', url: '/hook', body: '{"event":"approval.approved"}' });
    expect(got[0].headers['x-coordinator-signature']).toBe(signBody('s'.repeat(64), got[0].body));
    // The allow-list is exact: loopback listed, the LAN still refused.
    expect(await new OutboundPolicy(['127.0.0.0/8']).check('http://192.168.1.1/')).toMatch(/private address/);
    expect(() => new OutboundPolicy(['10.0.0.0/33', 'not-an-ip'])).toThrow(/WEBHOOK_ALLOWLIST\[0\][\s\S]*WEBHOOK_ALLOWLIST\[1\]: 'not-an-ip' is not an IP address or CIDR range/);
  });

  it('OutboundPolicy.check: the request-time check names the reason, or answers null for a public URL', async () => {
    expect(await new OutboundPolicy([]).check('http://127.0.0.1:3000/api/agents')).toMatch(/^127\.0\.0\.1 is a loopback address/);
    expect(await new OutboundPolicy([]).check('http://[::ffff:a9fe:a9fe]/')).toMatch(/the cloud metadata service/);
    expect(await new OutboundPolicy([]).check('http://93.184.216.34/hook')).toBeNull();
    expect(await new OutboundPolicy([]).check('http://[2606:4700::1111]/hook')).toBeNull();
    expect(await new OutboundPolicy(['127.0.0.1']).check('http://127.0.0.1:3000/')).toBeNull();
  });

  it('a health URL on an internal address is refused too (the probe says why, the listener gets nothing)', async () => {
    const { port, got } = await listener();
    const agent = { id: 'a1', branchId: 'lisboa', kind: 'action', status: 'up', dependsOn: [], registeredAt: '', source: 'api', healthUrl: `http://127.0.0.1:${port}/health` } as unknown as AgentRecord;
    const probe = (allowlist: string[]) => createProber({ hosts: new AgentHosts(), clock: systemClock, heartbeatMaxAgeMs: () => 60_000, allowlist })(agent, AbortSignal.timeout(2000));
    expect(await probe([])).toEqual({ ok: false, detail: expect.stringMatching(/^health URL refused: 127\.0\.0\.1 is a loopback address/) });
    expect(got).toEqual([]);
    expect(await probe(['127.0.0.1'])).toMatchObject({ ok: true });
    expect(got).toHaveLength(1);
  });

  it('the coordinator wires WEBHOOK_ALLOWLIST: unset refuses loopback, listed delivers', async () => {
    const { port, got } = await listener();
    for (const [allowlist, status] of [
      ['', 'failed'],
      ['127.0.0.1', 'delivered'],
    ] as const) {
      const t = await startTestCoordinator({ env: { WEBHOOK_ALLOWLIST: allowlist } });
      cleanups.push(() => t.close());
      await t.running.store.agents.insert({ id: 'refunds', branchId: 'lisboa', kind: 'action', status: 'up', dependsOn: [], registeredAt: new Date().toISOString(), source: 'api' });
      const { id } = await t.running.coordinator.outbox.enqueue('refunds', `http://127.0.0.1:${port}/hook`, { event: 'x' });
      const item = await until('the webhook to settle', async () => {
        const i = await t.running.store.outbox.get(id);
        return i?.status !== 'pending' ? i : undefined;
      });
      expect(item).toMatchObject({ status, ...(status === 'failed' ? { lastError: expect.stringMatching(/^refused: .*loopback/) } : {}) });
      expect(got).toHaveLength(status === 'failed' ? 0 : 1);
    }
  });
});

describe('the webhook outbox at shutdown', () => {
  it('waits for an attempt under way, so a webhook delivered while stopping is recorded as delivered (not sent again after the restart)', async () => {
    let answer!: () => void;
    let received!: () => void;
    const arrived = new Promise<void>((r) => (received = r));
    const server = createServer((req, res) => {
      req.resume();
      received();
      answer = () => {
        res.statusCode = 204;
        res.end();
      };
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const { store, outbox } = await outboxSetup(['127.0.0.0/8']);
    const item = await outbox.enqueue('refunds', `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, { hello: 'world' });
    await arrived;
    let stopped = false;
    const stopping = outbox.stop().then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(stopped).toBe(false); // the receiver has not answered yet
    answer();
    await stopping;
    expect(await store.outbox.get(item.id)).toMatchObject({ status: 'delivered', attempts: 1 });
  });
});
