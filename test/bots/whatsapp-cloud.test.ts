import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import express from 'express';
import { mkdirSync, statSync } from 'node:fs';
import { createServer, request as httpRequest, type ClientRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { webhookRouters } from '../../src/app/webhook-router.js';
import type { ApprovalPrompt, BotEvent } from '../../src/bots/bot-agent.js';
import type { BotContext, DecisionReply, DecisionRequest } from '../../src/bots/channel-factory.js';
import { builtinChannels } from '../../src/bots/channels.js';
import { promptTime } from '../../src/bots/prompt-time.js';
import { cut } from '../../src/bots/whatsapp-cloud/cloud-render.js';
import { GraphClient } from '../../src/bots/whatsapp-cloud/graph-client.js';
import { CodedError } from '../../src/core/errors.js';
import type { CloudContactRecord, CloudMessageRecord } from '../../src/bots/whatsapp-cloud/cloud-state.js';
import { whatsappCloudChannel } from '../../src/bots/whatsapp-cloud/whatsapp-cloud-channel.js';
import type { WhatsAppCloudBot } from '../../src/bots/whatsapp-cloud/whatsapp-cloud-bot.js';
import { LocalAgentHost } from '../../src/branches/local-agent-host.js';
import { parseConfig } from '../../src/config/config-file.js';
import { errorHandler } from '../../src/coordination/http/error-handler.js';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import { GRAPH_ERRORS, graphApiStandIn, waIdOf, webhookSender, type GraphApiStandIn } from '../helpers/graph-api-stand-in.js';
import { memoryLogger } from '../helpers/quiet-logger.js';
import { tempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/until.js';

const PHONE_ID = '106540352242922';
const TOKEN = 'EAAG-stand-in-access-token';
const APP_SECRET = 'app-secret-for-the-cloud-tests';
const VERIFY = 'verify-token-for-the-cloud-tests';
const ANA = '351910000001';
const RUI = '351910000002';

const prompt = (approvalId: string, over: Partial<ApprovalPrompt> = {}): ApprovalPrompt => ({
  approvalId,
  code: `A-${approvalId.slice(-4)}`,
  branchName: 'Lisboa',
  actionType: 'refund',
  summary: 'Refund 20 EUR to order 1234',
  riskLevel: 'medium',
  requester: 'refunds',
  expiresAt: '2026-12-31T10:00:00.000Z',
  ...over,
});

/**
 * The channel at the level of one bot: built by its factory (through the real
 * LocalAgentHost) with a context made here, its webhook routes mounted by the
 * real router on loopback, Meta played by the Graph API stand-in and by
 * webhooks signed the way Meta signs them.
 */
describe('WhatsApp Cloud API bot', () => {
  let graph: GraphApiStandIn;
  let dir: ReturnType<typeof tempDir>;
  let store: SqliteStore;
  let local: LocalAgentHost;
  let server: Server;
  let bot: WhatsAppCloudBot;
  let plain: WhatsAppCloudBot;
  let hook: ReturnType<typeof webhookSender>;
  const logs = memoryLogger();
  const events: BotEvent[] = [];
  const decisions: DecisionRequest[] = [];
  let answer: (request: DecisionRequest) => DecisionReply = () => ({ ok: true, text: 'Approved A-1.' });
  const messages = () => store.namespace('whatsapp-cloud', whatsappCloudChannel.state!).collection<CloudMessageRecord>('messages');
  const contacts = () => store.namespace('whatsapp-cloud', whatsappCloudChannel.state!).collection<CloudContactRecord>('contacts');

  beforeAll(async () => {
    graph = await graphApiStandIn({ phoneNumberId: PHONE_ID, accessToken: TOKEN });
    dir = tempDir();
    mkdirSync(join(dir.path, 'data'), { mode: 0o700 });
    store = SqliteStore.open({ dataDir: join(dir.path, 'data') });
    const channels = builtinChannels();
    const agent = { channel: 'whatsapp-cloud', phoneNumberId: PHONE_ID, accessToken: TOKEN, appSecret: APP_SECRET, verifyToken: VERIFY, retry: { attempts: 2, baseMs: 10, maxMs: 20 } };
    const config = parseConfig(
      { branches: [{ id: 'lisboa', name: 'Lisboa', agents: [{ id: 'lis-wa', ...agent, approvalTemplate: { name: 'approval_request', language: 'pt_PT' } }, { id: 'lis-wa-plain', ...agent }] }] },
      {},
      channels,
    );
    const context: BotContext = {
      logger: logs.logger,
      env: { WHATSAPP_GRAPH_URL: graph.url },
      decide: async (request) => (decisions.push(request), answer(request)),
      state: (namespace) => store.namespace(namespace, whatsappCloudChannel.state!),
    };
    local = new LocalAgentHost({ channels, context, logger: logs.logger });
    await local.startBranches(config.branches);
    bot = local.bot('lis-wa') as WhatsAppCloudBot;
    plain = local.bot('lis-wa-plain') as WhatsAppCloudBot;
    bot.onEvent((e) => events.push(e));
    const app = express();
    app.use(webhookRouters({ channels, local }).raw);
    app.use(errorHandler);
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    hook = webhookSender({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/whatsapp-cloud/lis-wa`, appSecret: APP_SECRET, phoneNumberId: PHONE_ID });
  });
  afterAll(async () => {
    await local.stop();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await graph.close();
    await store.close();
    dir.cleanup();
  });
  beforeEach(() => {
    graph.reset();
    answer = () => ({ ok: true, text: 'Approved A-1.' });
  });

  /** Posts a signed webhook and waits until the bot processed it. */
  const deliver = async (body: unknown) => {
    const res = await hook.post(body);
    expect(res.status).toBe(200);
    await bot.idle();
    return res;
  };
  const lastSent = () => graph.sent().at(-1)!;

  it('keeps its state in an owner-only data dir', () => {
    expect(statSync(join(dir.path, 'data')).mode & 0o777).toBe(0o700);
  });

  it("answers Meta's verification with the challenge as text, and refuses a wrong token", async () => {
    const ok = await hook.verify({ 'hub.mode': 'subscribe', 'hub.verify_token': VERIFY, 'hub.challenge': '1158201444' });
    expect(ok).toMatchObject({ status: 200, text: '1158201444' });
    expect(ok.type).toMatch(/^text\/plain/);
    expect((await hook.verify({ 'hub.mode': 'subscribe', 'hub.verify_token': 'wrong', 'hub.challenge': '1' })).status).toBe(401);
    expect((await hook.verify({ 'hub.mode': 'unsubscribe', 'hub.verify_token': VERIFY, 'hub.challenge': '1' })).status).toBe(401);
    expect((await hook.verify({ 'hub.challenge': '1' })).status).toBe(401);
  });

  it('refuses a forged or missing signature with 401 and changes nothing', async () => {
    const body = hook.text('351919999999', 'let me in');
    const forged = await hook.post(body, { signature: `sha256=${'0'.repeat(64)}` });
    const missing = await hook.post(body, { signature: null });
    const otherSecret = await hook.post(JSON.stringify(body), { signature: `sha256=${(await import('node:crypto')).createHmac('sha256', 'not-the-secret').update(JSON.stringify(body)).digest('hex')}` });
    expect([forged.status, missing.status, otherSecret.status]).toEqual([401, 401, 401]);
    expect(JSON.parse(forged.text).error.code).toBe('unauthorized');
    await bot.idle();
    expect(events.filter((e) => e.type === 'message' && e.message.chatId === '351919999999')).toHaveLength(0);
    expect(await contacts().count({ waId: '351919999999' })).toBe(0);
  });

  it('refuses a signed body that is not a webhook (400) and one over 3 MiB (413)', async () => {
    expect((await hook.post({ hello: 'world' })).status).toBe(400);
    expect((await hook.post('not json')).status).toBe(400);
    expect((await hook.post({ object: 'page', entry: [] })).status).toBe(400);
    // Meta's payloads may be up to 3 MB: a 2 MiB one is read (and refused here only for not being a webhook).
    expect((await hook.post(JSON.stringify({ object: 'page', pad: 'x'.repeat(2 * 1024 * 1024) }))).status).toBe(400);
    expect((await hook.post('x'.repeat(3 * 1024 * 1024 + 1))).status).toBe(413);
  });

  it('bounds the unsigned bytes held at once (429 past 64 MiB), and frees them when the senders go', async () => {
    const { port } = server.address() as AddressInfo;
    const chunk = Buffer.alloc(3 * 1024 * 1024 - 1, 0x20);
    const held: ClientRequest[] = [];
    const statuses: number[] = [];
    try {
      for (let i = 0; i < 22; i++) {
        const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/webhooks/whatsapp-cloud/lis-wa', headers: { 'content-type': 'application/json', 'content-length': String(chunk.length + 1) } });
        req.on('response', (res) => (statuses.push(res.statusCode ?? 0), res.resume()));
        req.on('error', () => undefined);
        req.write(chunk);
        held.push(req);
      }
      await until('one sender refused', () => statuses.includes(429), 10_000);
      expect(statuses.every((s) => s === 429)).toBe(true);
    } finally {
      for (const req of held) req.destroy();
    }
    // Once they are gone, a signed webhook is read as usual.
    await until('bytes freed', async () => (await hook.post(hook.text(ANA, 'still here'))).status === 200, 10_000);
    await bot.idle();
  });

  it('a webhook path naming no agent of the channel is a 404', async () => {
    const stranger = webhookSender({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/whatsapp-cloud/nobody`, appSecret: APP_SECRET, phoneNumberId: PHONE_ID });
    expect((await stranger.post(hook.text(ANA, 'hi'))).status).toBe(404);
  });

  it('reports an inbound text as a message event, once even when Meta delivers it twice', async () => {
    const body = hook.text(ANA, 'Olá, tudo bem?', { name: 'Ana Costa', replyTo: 'wamid.earlier' });
    await deliver(body);
    await deliver(body);
    const got = events.filter((e) => e.type === 'message' && e.message.text === 'Olá, tudo bem?');
    expect(got).toHaveLength(1);
    const id = hook.idOf(body);
    expect(got[0]).toEqual({
      type: 'message',
      message: expect.objectContaining({ agentId: 'lis-wa', channel: 'whatsapp-cloud', chatId: ANA, senderId: ANA, senderPhone: ANA, senderName: 'Ana Costa', text: 'Olá, tudo bem?', messageId: id, replyToMessageId: 'wamid.earlier' }),
    });
    expect((await contacts().get(`lis-wa:${ANA}`))?.lastInboundAt).toBeDefined();
  });

  it('prompts inside the 24-hour window with signed reply buttons; a tap decides and is answered under it', async () => {
    const ref = await bot.promptApproval(`+${ANA}`, prompt('apr_tap0001'));
    expect(ref.chatId).toBe(ANA);
    const sent = lastSent() as unknown as { to: string; type: string; interactive: { type: string; body: { text: string }; action: { buttons: Array<{ type: string; reply: { id: string; title: string } }> } } };
    expect(sent).toMatchObject({ to: ANA, type: 'interactive', interactive: { type: 'button' } });
    expect(sent.interactive.body.text).toContain('Refund 20 EUR to order 1234');
    const [approve, reject] = sent.interactive.action.buttons;
    expect([approve!.reply.title, reject!.reply.title]).toEqual(['Approve', 'Reject']);
    expect(approve!.reply.id.length).toBeLessThanOrEqual(256);
    expect(approve!.reply.id).not.toBe(reject!.reply.id);
    expect((await messages().get(`lis-wa:${ref.messageId}`))).toMatchObject({ kind: 'prompt', approvalId: 'apr_tap0001', to: ANA });

    answer = () => ({ ok: true, text: 'Approved A-0001.' });
    const tap = hook.buttonReply(ANA, ref.messageId, approve!.reply.id, 'Approve');
    await deliver(tap);
    expect(decisions.at(-1)).toEqual({ agentId: 'lis-wa', channel: 'whatsapp-cloud', approvalId: 'apr_tap0001', decision: 'approve', deciderId: ANA });
    const tapId = hook.idOf(tap);
    expect(lastSent()).toMatchObject({ to: ANA, type: 'text', text: { body: 'Approved A-0001.' }, context: { message_id: tapId } });

    // A late tap is told what the decision route says (who decided, and where).
    answer = () => ({ ok: false, text: 'Too late: A-0001 was already approved by Ana via whatsapp-cloud.' });
    await deliver(hook.buttonReply(ANA, ref.messageId, reject!.reply.id, 'Reject'));
    expect(decisions.at(-1)).toMatchObject({ approvalId: 'apr_tap0001', decision: 'reject' });
    expect(lastSent()).toMatchObject({ to: ANA, text: { body: 'Too late: A-0001 was already approved by Ana via whatsapp-cloud.' } });
  });

  it('refuses a tap whose id was signed for another number', async () => {
    await deliver(hook.text(RUI, 'bom dia'));
    const ref = await bot.promptApproval(RUI, prompt('apr_rui00001'));
    const ruiApprove = (lastSent() as unknown as { interactive: { action: { buttons: Array<{ reply: { id: string } }> } } }).interactive.action.buttons[0]!.reply.id;
    const before = decisions.length;
    await deliver(hook.buttonReply(ANA, ref.messageId, ruiApprove, 'Approve'));
    expect(decisions.length).toBe(before);
    expect(lastSent()).toMatchObject({ to: ANA, text: { body: 'This button is not valid for your number.' } });
    // The same id from the number it was sent to decides.
    await deliver(hook.buttonReply(RUI, ref.messageId, ruiApprove, 'Approve'));
    expect(decisions.at(-1)).toMatchObject({ approvalId: 'apr_rui00001', decision: 'approve', deciderId: RUI });
  });

  it('asks for a reason after a rejection and records a reply to the prompt as it', async () => {
    const ref = await bot.promptApproval(ANA, prompt('apr_reason01'));
    const reject = (lastSent() as unknown as { interactive: { action: { buttons: Array<{ reply: { id: string } }> } } }).interactive.action.buttons[1]!.reply.id;
    answer = (r) => (r.reason ? { ok: true, text: 'Reason recorded for A-on01.' } : { ok: true, text: 'Rejected A-on01.', askReason: true });
    await deliver(hook.buttonReply(ANA, ref.messageId, reject, 'Reject'));
    expect(lastSent()).toMatchObject({ text: { body: 'Rejected A-on01. If you want to give a reason, reply to the request with it.' } });
    await deliver(hook.text(ANA, 'o cliente já foi reembolsado', { replyTo: ref.messageId }));
    expect(decisions.at(-1)).toEqual({ agentId: 'lis-wa', channel: 'whatsapp-cloud', approvalId: 'apr_reason01', decision: 'reject', deciderId: ANA, reason: 'o cliente já foi reembolsado' });
    expect(lastSent()).toMatchObject({ text: { body: 'Reason recorded.' } });
  });

  it('a manager whose number Meta knows by another id (Brazil: the ninth digit) gets buttons after the first send, and her tap decides as her configured number', async () => {
    const BEA = '5511987654321';
    const BEA_WA = waIdOf(BEA);
    expect(BEA_WA).toBe('551187654321');
    // Nothing known yet: no inbound under her number as written, so the template goes; Meta answers with her id.
    await bot.promptApproval(`+${BEA}`, prompt('apr_bea00001'));
    expect(lastSent()).toMatchObject({ type: 'template', to: BEA });
    // She writes (under her WhatsApp id): the window is found through the id Meta gave, so the next prompt has buttons.
    await deliver(hook.text(BEA_WA, 'oi'));
    const ref = await bot.promptApproval(`+${BEA}`, prompt('apr_bea00002'));
    const sent = lastSent() as unknown as { type: string; interactive: { action: { buttons: Array<{ reply: { id: string } }> } } };
    expect(sent.type).toBe('interactive');
    await deliver(hook.buttonReply(BEA_WA, ref.messageId, sent.interactive.action.buttons[0]!.reply.id, 'Approve'));
    expect(decisions.at(-1)).toEqual({ agentId: 'lis-wa', channel: 'whatsapp-cloud', approvalId: 'apr_bea00002', decision: 'approve', deciderId: BEA });
  });

  it("refuses a button another agent of the same Meta app signed", async () => {
    const plainHook = webhookSender({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/whatsapp-cloud/lis-wa-plain`, appSecret: APP_SECRET, phoneNumberId: PHONE_ID });
    expect((await plainHook.post(plainHook.text(ANA, 'olá'))).status).toBe(200);
    await plain.idle();
    const ref = await plain.promptApproval(ANA, prompt('apr_other001'));
    const theirs = (lastSent() as unknown as { interactive: { action: { buttons: Array<{ reply: { id: string } }> } } }).interactive.action.buttons[0]!.reply.id;
    const before = decisions.length;
    await deliver(hook.buttonReply(ANA, ref.messageId, theirs, 'Approve'));
    expect(decisions.length).toBe(before);
    expect(lastSent()).toMatchObject({ to: ANA, text: { body: 'This button is not valid for your number.' } });
  });

  it("keeps a prompt inside Meta's 1024 characters whatever the lengths of its parts, and never splits an emoji", async () => {
    const long = prompt('apr_long0001', { branchName: 'B'.repeat(900), requester: 'r'.repeat(200), summary: 's'.repeat(1500), details: 'd'.repeat(3000) });
    await bot.promptApproval(ANA, long);
    const body = (lastSent() as unknown as { interactive: { body: { text: string } } }).interactive.body.text;
    expect(body.length).toBeLessThanOrEqual(1024);
    expect(body).toContain('Expires: 2026-12-31 10:00 UTC');
    expect(cut('ab😀cd', 4)).toBe('ab…');
    expect(cut('ab😀cd', 5)).toBe('ab😀…');
    expect(cut('abc', 3)).toBe('abc');
  });

  it("shows times in the branch's time zone, with the zone", async () => {
    await bot.promptApproval(ANA, prompt('apr_zone0001', { timeZone: 'America/Recife' }));
    expect((lastSent() as unknown as { interactive: { body: { text: string } } }).interactive.body.text).toContain('Expires: 2026-12-31 07:00 GMT-3');
    expect(promptTime('2026-07-31T10:00:00.000Z', 'Europe/Lisbon')).toBe('2026-07-31 11:00 GMT+1');
    expect(promptTime('2026-12-31T10:00:00.000Z', 'UTC')).toBe('2026-12-31 10:00 UTC');
    expect(promptTime('2026-12-31T10:00:00.000Z', 'Not/AZone')).toBe('2026-12-31 10:00 UTC');
    expect(promptTime('not a time', 'UTC')).toBe('not a time');
  });

  it('sends the approved template when Meta answers 131047, and a tap on its quick reply decides', async () => {
    graph.fail({ kind: 'send', type: 'interactive' }, GRAPH_ERRORS.reEngagement);
    const ref = await bot.promptApproval(ANA, prompt('apr_tmpl0001'));
    const [interactive, template] = graph.sent().slice(-2) as unknown as [{ type: string }, { type: string; template: { name: string; language: { code: string }; components: Array<{ type: string; sub_type?: string; index?: string; parameters: Array<{ type: string; payload?: string; text?: string }> }> } }];
    expect(interactive.type).toBe('interactive');
    expect(template).toMatchObject({ type: 'template', template: { name: 'approval_request', language: { code: 'pt_PT' } } });
    const buttons = template.template.components.filter((c) => c.type === 'button');
    expect(buttons.map((b) => [b.sub_type, b.index])).toEqual([['quick_reply', '0'], ['quick_reply', '1']]);
    expect(template.template.components[0]!.parameters.map((p) => p.text)).toEqual(['A-0001', 'Lisboa', 'refund: Refund 20 EUR to order 1234', '2026-12-31 10:00 UTC']);
    expect((await messages().get(`lis-wa:${ref.messageId}`))?.kind).toBe('template');
    await deliver(hook.templateButton(ANA, ref.messageId, buttons[1]!.parameters[0]!.payload!, 'Reject'));
    expect(decisions.at(-1)).toMatchObject({ approvalId: 'apr_tmpl0001', decision: 'reject', deciderId: ANA });
  });

  it('sends the template straight away to a number with no inbound in 24 hours', async () => {
    const calls = graph.sent().length;
    await bot.promptApproval('+351 910 000 003', prompt('apr_cold0001'));
    expect(graph.sent().slice(calls).map((b) => b.type)).toEqual(['template']);
  });

  it('without a template, outside the window fails clearly (so the approval goes to the next channel)', async () => {
    await expect(plain.promptApproval('351910000003', prompt('apr_none0001'))).rejects.toThrow(/has not written to this number in the last 24 hours.*no approvalTemplate configured/);
    // Ana wrote to this agent's number, yet Meta says the window is closed.
    const plainHook = webhookSender({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/whatsapp-cloud/lis-wa-plain`, appSecret: APP_SECRET, phoneNumberId: PHONE_ID });
    expect((await plainHook.post(plainHook.text(ANA, 'olá'))).status).toBe(200);
    await plain.idle();
    graph.fail({ kind: 'send', type: 'interactive' }, GRAPH_ERRORS.reEngagement);
    await expect(plain.promptApproval(ANA, prompt('apr_none0002'))).rejects.toThrow(/Meta answered 131047.*no approvalTemplate/);
  });

  it('waits out rate limits (130429, 131056) and retries a bounded number of times', async () => {
    graph.fail({ kind: 'send' }, GRAPH_ERRORS.throughput, 2);
    const calls = graph.calls.length;
    const ref = await bot.send(ANA, 'after two rate limits');
    expect(graph.calls.length - calls).toBe(3);
    expect(ref.messageId).toMatch(/^wamid\./);
    graph.fail({ kind: 'send' }, GRAPH_ERRORS.pairRate, 3);
    await expect(bot.send(ANA, 'too fast')).rejects.toThrow(/WhatsApp Cloud API error 131056: \(#131056\) \(Business Account, Consumer Account\) pair rate limit hit/);
    expect(logs.entries.some((e) => String(e.message).includes('rate limit (130429); retrying'))).toBe(true);
  });

  it("fails other errors with Meta's message", async () => {
    graph.fail({ kind: 'send' }, GRAPH_ERRORS.undeliverable);
    await expect(bot.send(ANA, 'x')).rejects.toThrow(/131026.*Message undeliverable/);
  });

  it('an expired token (190) makes the probe need a person, and sends fail saying so', async () => {
    const healthy = await bot.probe(AbortSignal.timeout(5000));
    expect(healthy).toMatchObject({ ok: true });
    expect(healthy.detail).toMatch(/^\+351 210 000 000 \(Stand-in Shop\), quality GREEN; last webhook \d+ s ago$/);
    expect(graph.calls.at(-1)).toMatchObject({ method: 'GET', path: `/v26.0/${PHONE_ID}`, authorization: `Bearer ${TOKEN}` });
    graph.fail({ kind: 'phone' }, GRAPH_ERRORS.tokenExpired);
    const probe = await bot.probe(AbortSignal.timeout(5000));
    expect(probe).toMatchObject({ ok: false, needsHuman: true });
    expect(probe.detail).toMatch(/^needs a new access token/);
    graph.fail({ kind: 'send' }, GRAPH_ERRORS.tokenExpired);
    await expect(bot.send(ANA, 'x')).rejects.toThrow(/needs a new access token.*190/);
  });

  it('records delivery statuses on the outbound record, never going back, failures with their error', async () => {
    const ref = await bot.send(ANA, 'status please');
    await deliver(hook.status(ref.messageId, 'delivered', ANA));
    await deliver(hook.status(ref.messageId, 'read', ANA));
    await deliver(hook.status(ref.messageId, 'delivered', ANA));
    expect(await messages().get(`lis-wa:${ref.messageId}`)).toMatchObject({ status: 'read', kind: 'text', to: ANA });
    const lost = await bot.send(RUI, 'will fail');
    await deliver(hook.status(lost.messageId, 'failed', RUI, [{ code: 131026, title: 'Message undeliverable', error_data: { details: 'Receiver is incapable of receiving this message' } }]));
    expect(await messages().get(`lis-wa:${lost.messageId}`)).toMatchObject({ status: 'failed', error: '131026 Message undeliverable: Receiver is incapable of receiving this message' });
  });

  it('sends the outcome as a reply to the prompt, once per status', async () => {
    const ref = await bot.promptApproval(ANA, prompt('apr_outc0001'));
    const outcome = { approvalId: 'apr_outc0001', status: 'approved', by: 'Ana', via: 'telegram', at: '2026-12-02T10:00:00.000Z', prompt: prompt('apr_outc0001') };
    await bot.updateApproval(ref, outcome);
    expect(lastSent()).toMatchObject({ to: ANA, type: 'text', context: { message_id: ref.messageId }, text: { body: '➡ A-0001 APPROVED by Ana via telegram at 2026-12-02 10:00 UTC' } });
    const calls = graph.sent().length;
    await bot.updateApproval(ref, outcome);
    expect(graph.sent().length).toBe(calls);
  });

  it('tells a pending prompt\'s new progress as a reply, once per change', async () => {
    const ref = await bot.promptApproval(ANA, prompt('apr_prog0001'));
    const pending = (progress: string[]) => ({ approvalId: 'apr_prog0001', status: 'pending', prompt: { ...prompt('apr_prog0001'), progress } });
    await bot.updateApproval(ref, pending(['1 of 2 approvals: Rui (2026-12-02 10:00 UTC).']));
    expect(lastSent()).toMatchObject({ to: ANA, type: 'text', context: { message_id: ref.messageId }, text: { body: '⏳ A-0001 is still pending. 1 of 2 approvals: Rui (2026-12-02 10:00 UTC).' } });
    const calls = graph.sent().length;
    await bot.updateApproval(ref, pending(['1 of 2 approvals: Rui (2026-12-02 10:00 UTC).']));
    expect(graph.sent().length).toBe(calls);
    await bot.updateApproval(ref, pending(['1 of 2 approvals: Rui (2026-12-02 10:00 UTC).', 'Escalated to Marta at 2026-12-02 10:15 UTC.']));
    expect(graph.sent().length).toBe(calls + 1);
  });
});

describe('Graph API client', () => {
  it('a Graph API that sends its headers and then stalls fails the call within its timeout, saying so, never quoting the token', async () => {
    const stalled = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"messages":');
    });
    stalled.listen(0, '127.0.0.1');
    await new Promise((r) => stalled.once('listening', r));
    try {
      const url = `http://127.0.0.1:${(stalled.address() as AddressInfo).port}`;
      const client = new GraphClient({ baseUrl: url, version: 'v26.0', phoneNumberId: PHONE_ID, accessToken: TOKEN, timeoutMs: 500 });
      const started = Date.now();
      const error = await client.phoneNumber().catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(3000);
      expect(error).toBeInstanceOf(CodedError);
      expect((error as CodedError).code).toBe('delivery_failed');
      expect((error as Error).message).toMatch(/answered HTTP 200 but its body did not arrive: no answer within 500 ms/);
      // A token fetch refuses as a header is never quoted back.
      const bad = new GraphClient({ baseUrl: url, version: 'v26.0', phoneNumberId: PHONE_ID, accessToken: 'EAAGsecret\nPART2', timeoutMs: 500 });
      const refused = (await bad.phoneNumber().catch((e: unknown) => e)) as Error;
      expect(refused).toBeInstanceOf(CodedError);
      expect(refused.message).not.toContain('EAAGsecret');
      expect(refused.message).not.toContain('PART2');
    } finally {
      stalled.closeAllConnections();
      await new Promise((r) => stalled.close(r));
    }
  });
});
