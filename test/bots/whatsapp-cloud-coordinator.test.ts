import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { CloudContactRecord } from '../../src/bots/whatsapp-cloud/cloud-state.js';
import { whatsappCloudChannel } from '../../src/bots/whatsapp-cloud/whatsapp-cloud-channel.js';
import { botApiStandIn, type BotApiStandIn } from '../helpers/bot-api-stand-in.js';
import { GRAPH_ERRORS, graphApiStandIn, webhookSender, type GraphApiStandIn } from '../helpers/graph-api-stand-in.js';
import { addRequester, startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator.js';
import { until } from '../helpers/until.js';

const PHONE_ID = '106540352242922';
const WA_TOKEN = 'EAAG-coordinator-test-token';
const WA_SECRET = 'app-secret-coordinator-tests';
const WA_VERIFY = 'verify-token-coordinator-tests';
const TG_TOKEN = '424242:COORDINATOR-CLOUD-TESTS';
const AGENT_TOKEN = 'agt_cloud-test-token-0123456789abcdef';
const ANA = '351910000001';

/** Ana is reached on WhatsApp (Cloud API) first, Rui on Telegram: one approval, two copies on two channels. */
const YAML = `
branches:
  - id: lisboa
    name: Lisboa
    managers:
      - { id: ana, name: Ana, role: owner, whatsapp: "+${ANA}", telegram: 1001 }
      - { id: rui, name: Rui, role: owner, telegram: 1002 }
    agents:
      - id: lis-wa
        channel: whatsapp-cloud
        phoneNumberId: "${PHONE_ID}"
        accessToken: "\${WA_TOKEN}"
        appSecret: "\${WA_SECRET}"
        verifyToken: "\${WA_VERIFY}"
        retry: { attempts: 1, baseMs: 10, maxMs: 10 }
      - { id: lis-tg, channel: telegram, token: "\${TG_TOKEN}", pollMinIntervalMs: 50 }
    address: Rua Augusta 100, Lisboa
    responder:
      faq: [{ id: address, keywords: [endereço, address], answer: "Estamos em {address}." }]
defaults:
  channelOrder: [whatsapp-cloud, telegram]
`;

describe('WhatsApp Cloud API through the real coordinator', () => {
  let graph: GraphApiStandIn;
  let telegram: BotApiStandIn;
  let t: TestCoordinator;
  let hook: ReturnType<typeof webhookSender>;

  beforeAll(async () => {
    graph = await graphApiStandIn({ phoneNumberId: PHONE_ID, accessToken: WA_TOKEN });
    telegram = await botApiStandIn();
    t = await startTestCoordinator({
      yaml: YAML,
      env: { WA_TOKEN, WA_SECRET, WA_VERIFY, TG_TOKEN, TELEGRAM_API_ROOT: telegram.url, WHATSAPP_GRAPH_URL: graph.url, HEALTH_INTERVAL_MS: '1000' },
    });
    await addRequester(t, 'refunds', 'lisboa', AGENT_TOKEN);
    hook = webhookSender({ url: `${t.url}/webhooks/whatsapp-cloud/lis-wa`, appSecret: WA_SECRET, phoneNumberId: PHONE_ID });
    await until('both agents up', async () => (await t.running.store.agents.get('lis-wa'))?.status === 'up' && (await t.running.store.agents.get('lis-tg'))?.status === 'up');
  });
  afterAll(async () => {
    await t?.close();
    await graph?.close();
    await telegram?.close();
  });

  it("answers Meta's verification on the mounted route", async () => {
    const res = await hook.verify({ 'hub.mode': 'subscribe', 'hub.verify_token': WA_VERIFY, 'hub.challenge': '987654321' });
    expect(res).toMatchObject({ status: 200, text: '987654321' });
    expect((await hook.verify({ 'hub.mode': 'subscribe', 'hub.verify_token': 'nope', 'hub.challenge': '1' })).status).toBe(401);
  });

  it('a manager taps Approve on real buttons: approved, the Cloud API copy gets the outcome as a reply, the Telegram copy is edited', async () => {
    // Ana writes to the business number first: the 24-hour window is open, so the prompt has reply buttons.
    expect((await hook.post(hook.text(ANA, 'Olá', { name: 'Ana' }))).status).toBe(200);
    const contacts = t.running.store.namespace('whatsapp-cloud', whatsappCloudChannel.state!).collection<CloudContactRecord>('contacts');
    await until('Ana seen', () => contacts.get(`lis-wa:${ANA}`));

    const res = await t.call('/api/approvals', { method: 'POST', token: AGENT_TOKEN, json: { branchId: 'lisboa', actionType: 'refund', summary: 'Refund 35 EUR to order 991' } });
    expect(res.status).toBe(201);
    const id = res.body.approval.id as string;
    const interactive = await until('buttons sent to Ana', () =>
      graph.sent().find((b) => b.type === 'interactive' && b.to === ANA && JSON.stringify(b).includes('Refund 35 EUR')),
    ) as unknown as { interactive: { action: { buttons: Array<{ reply: { id: string; title: string } }> } } };
    await until('Telegram prompt to Rui', () => telegram.calls.find((c) => c.method === 'sendMessage' && String(c.params.chat_id) === '1002' && String(c.params.text).includes('Refund 35 EUR')));
    const approval = await until('deliveries recorded', async () => {
      const a = await t.running.store.approvals.get(id);
      return a && a.deliveries.filter((d) => d.status === 'sent').length >= 2 ? a : null;
    });
    const promptId = approval.deliveries.find((d) => d.channel === 'whatsapp-cloud')!.messageId!;
    const [approve, reject] = interactive.interactive.action.buttons;

    // A forged tap changes nothing.
    expect((await hook.post(hook.buttonReply(ANA, promptId, approve!.reply.id, 'Approve'), { signature: `sha256=${'ab'.repeat(32)}` })).status).toBe(401);
    expect((await t.running.store.approvals.get(id))?.status).toBe('pending');

    const tap = hook.buttonReply(ANA, promptId, approve!.reply.id, 'Approve');
    expect((await hook.post(tap)).status).toBe(200);
    await until('approved', async () => (await t.running.store.approvals.get(id))?.status === 'approved');
    expect((await t.running.store.approvals.get(id))?.decision).toMatchObject({ via: 'whatsapp-cloud' });
    await until('the tap answered under it', () => graph.sent().find((b) => b.type === 'text' && (b.context as { message_id?: string } | undefined)?.message_id === hook.idOf(tap)));
    const outcome = await until('the outcome under the prompt', () => graph.sent().find((b) => b.type === 'text' && (b.context as { message_id?: string } | undefined)?.message_id === promptId));
    expect((outcome.text as { body: string }).body).toMatch(/APPROVED by Ana via whatsapp-cloud/);
    await until('the Telegram copy edited', () => telegram.calls.find((c) => c.method === 'editMessageText' && String(c.params.chat_id) === '1002' && String(c.params.text).includes('APPROVED by Ana')));

    // A late tap is told who decided.
    const late = hook.buttonReply(ANA, promptId, reject!.reply.id, 'Reject');
    expect((await hook.post(late)).status).toBe(200);
    const told = await until('the late tap answered', () => graph.sent().find((b) => (b.context as { message_id?: string } | undefined)?.message_id === hook.idOf(late)));
    expect((told.text as { body: string }).body).toMatch(/^Too late: .* was already approved by Ana via whatsapp-cloud\.$/);
    expect((await t.running.store.approvals.get(id))?.status).toBe('approved');
    // Everything above ran without a contained failure in the channel.
    expect(t.logs.filter((e) => e.module === 'whatsapp-cloud' && (e.level === 'error' || e.level === 'warn')).map((e) => e.message)).toEqual([]);
  });

  it('a customer on the Cloud API gets the same responder and history as on every channel', async () => {
    const JOAO = '351920000002';
    const question = hook.text(JOAO, 'Qual o endereço?', { name: 'João' });
    expect((await hook.post(question)).status).toBe(200);
    const answer = await until('the FAQ answer under the question', () => graph.sent().find((b) => b.type === 'text' && b.to === JOAO));
    expect((answer.text as { body: string }).body).toBe('Estamos em Rua Augusta 100, Lisboa.');
    const contact = await until('contact stored', () => t.running.store.contacts.findOne({ phone: JOAO }));
    expect(contact).toMatchObject({ name: 'João', channel: 'whatsapp-cloud', branchId: 'lisboa' });
    const history = await until('both messages in the history', async () => {
      const list = await t.running.store.messages.find({ where: { contactId: contact.id }, orderBy: { field: 'at', direction: 'asc' } });
      return list.length === 2 ? list : null;
    });
    expect(history.map((m) => [m.direction, m.text])).toEqual([
      ['in', 'Qual o endereço?'],
      ['out', 'Estamos em Rua Augusta 100, Lisboa.'],
    ]);
    // Meta delivering the same webhook again answers nothing twice.
    expect((await hook.post(question)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    expect(graph.sent().filter((b) => b.type === 'text' && b.to === JOAO)).toHaveLength(1);
  });

  it('an expired access token (190) takes the agent down needing a person', async () => {
    graph.fail({ kind: 'phone' }, GRAPH_ERRORS.tokenExpired, 1000);
    const agent = await until('lis-wa down', async () => {
      const a = await t.running.store.agents.get('lis-wa');
      return a?.status === 'down' ? a : null;
    });
    expect(agent.statusReason).toMatch(/needs a new access token/);
    expect((await t.running.store.agents.get('lis-tg'))?.status).toBe('up');
  });
});
