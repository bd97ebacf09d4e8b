import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { IncomingHttpHeaders } from 'node:http';
import { CoordinatorClient, WebhookVerificationError, verifyWebhook, type WebhookEvent } from '../../packages/client/src/index.js';
import { until } from '../helpers/until.js';
import { localServer, startClientWorld, type ClientWorld } from './client-setup.js';

const rejection = (promise: Promise<unknown>) => promise.then(() => null, (e: unknown) => e as WebhookVerificationError);

describe('verifyWebhook on webhooks the coordinator delivers', () => {
  let w: ClientWorld;
  let receiver: Awaited<ReturnType<typeof localServer>>;
  const received: Array<{ body: Buffer; headers: IncomingHttpHeaders }> = [];

  beforeAll(async () => {
    w = await startClientWorld();
    // The test coordinator's WEBHOOK_ALLOWLIST lets callbacks reach 127.0.0.1.
    receiver = await localServer((req) => {
      received.push({ body: req.body, headers: req.headers });
      return 204;
    });
  });
  afterAll(async () => {
    await receiver?.close();
    await w?.close();
  });

  /** An approval with a callback, decided by Ana; resolves with the webhook as it arrived. */
  const delivered = async (summary: string, decision: 'approve' | 'reject') => {
    const agent = new CoordinatorClient({ baseUrl: w.t.url, token: w.agentToken });
    const ana = new CoordinatorClient({ baseUrl: w.t.url, token: w.managers.ana });
    const approval = await agent.requestApproval({ branchId: 'lisboa', actionType: 'refund', summary, details: { orderId: summary }, callbackUrl: `${receiver.url}/hooks/approvals` });
    await ana.decide(approval.id, { decision, reason: decision === 'reject' ? 'not this one' : undefined });
    const hook = await until(`the webhook for "${summary}"`, () => received.find((r) => r.body.toString('utf8').includes(approval.id)));
    return { approval, hook };
  };

  it('accepts a real webhook: Node headers and a Buffer, or Fetch Headers and the text', async () => {
    const { approval, hook } = await delivered('Refund 20 EUR to order 1', 'approve');
    const event: WebhookEvent = await verifyWebhook(hook.body, hook.headers, w.callbackSecret);
    expect(event).toMatchObject({ event: 'approval.approved', approval: { id: approval.id, status: 'approved', decision: { by: 'ana', byName: 'Ana', payloadHash: approval.payloadHash } } });
    expect(Date.now() - Date.parse(event.sentAt)).toBeLessThan(60_000);
    // The requester's view, without the key and version.
    expect(event.approval).not.toHaveProperty('idempotencyKey');
    expect(event.approval).not.toHaveProperty('version');
    const fetchHeaders = new Headers(Object.entries(hook.headers).map(([k, v]) => [k, String(v)] as [string, string]));
    expect(await verifyWebhook(hook.body.toString('utf8'), fetchHeaders, w.callbackSecret)).toEqual(event);
    // Header names in any case.
    const upper = { 'X-Coordinator-Signature': String(hook.headers['x-coordinator-signature']) };
    expect((await verifyWebhook(hook.body, upper, w.callbackSecret)).event).toBe('approval.approved');
  });

  it('refuses a tampered body, another secret, a missing or malformed signature', async () => {
    const { hook } = await delivered('Refund 30 EUR to order 2', 'reject');
    const text = hook.body.toString('utf8');
    expect((await verifyWebhook(text, hook.headers, w.callbackSecret)).event).toBe('approval.rejected');
    const tampered = text.replace('"status":"rejected"', '"status":"approved"');
    expect(tampered).not.toBe(text);
    expect(await rejection(verifyWebhook(tampered, hook.headers, w.callbackSecret))).toMatchObject({ constructor: WebhookVerificationError, code: 'bad_signature' });
    expect(await rejection(verifyWebhook(text, hook.headers, 'f'.repeat(64)))).toMatchObject({ code: 'bad_signature' });
    expect(await rejection(verifyWebhook(text, { 'content-type': 'application/json' }, w.callbackSecret))).toMatchObject({ code: 'missing_signature' });
    expect(await rejection(verifyWebhook(text, { 'x-coordinator-signature': 'sha1=abc' }, w.callbackSecret))).toMatchObject({ code: 'malformed_signature' });
    const twice = { 'x-coordinator-signature': [String(hook.headers['x-coordinator-signature']), String(hook.headers['x-coordinator-signature'])] };
    expect(await rejection(verifyWebhook(text, twice, w.callbackSecret))).toMatchObject({ code: 'malformed_signature' });
  });

  it('refuses a stale or far-future sentAt (the signed time, not the unsigned header)', async () => {
    const { hook } = await delivered('Refund 40 EUR to order 3', 'approve');
    const sentAt = Date.parse((JSON.parse(hook.body.toString('utf8')) as WebhookEvent).sentAt);
    const at = (ms: number) => ({ now: () => ms });
    expect(await rejection(verifyWebhook(hook.body, hook.headers, w.callbackSecret, at(sentAt + 301_000)))).toMatchObject({ code: 'too_old' });
    expect((await verifyWebhook(hook.body, hook.headers, w.callbackSecret, at(sentAt + 299_000))).event).toBe('approval.approved');
    expect(await rejection(verifyWebhook(hook.body, hook.headers, w.callbackSecret, at(sentAt - 301_000)))).toMatchObject({ code: 'too_new' });
    expect(await rejection(verifyWebhook(hook.body, hook.headers, w.callbackSecret, { ...at(sentAt + 20_000), maxAgeSec: 10 }))).toMatchObject({ code: 'too_old' });
    // A replay with a fresh timestamp header is still judged by the signed sentAt.
    const replayed = { ...hook.headers, 'x-coordinator-timestamp': String(Math.floor((sentAt + 3_600_000) / 1000)) };
    expect(await rejection(verifyWebhook(hook.body, replayed, w.callbackSecret, at(sentAt + 3_600_000)))).toMatchObject({ code: 'too_old' });
  });
});
