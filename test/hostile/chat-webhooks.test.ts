import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { hostileValue, nastyString } from './arbitraries.js';
import { rawRequest, type RawResponse } from './raw-request.js';
import { auditHead, auditSince, changedCollections, REFUSAL_AUDIT, storeDigest } from './store-digest.js';
import { interactionBody, slackApiStandIn, slackSignature } from '../helpers/slack-api-stand-in.js';
import { startTelegramEmulator, type TelegramServer } from '../helpers/telegram-emulator.js';
import { addRequester, startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator.js';
import { until } from '../helpers/until.js';

/**
 * Both chat webhooks under hostile input, against the real Bolt receiver and
 * the real grammY bot: unsigned or wrongly signed requests are refused and
 * change nothing; correctly signed requests with any content never reach a 5xx
 * and never stop the process.
 */
const RUNS = Number(process.env.HOSTILE_RUNS ?? 20) * 4;
const SLACK_SECRET = 'hostile-slack-signing-secret';
const TG_SECRET = 'hostile-telegram-webhook-secret';
const TG_TOKEN = '123456:hostile-telegram-token-for-tests-0000';

function noServerError(where: string, res: RawResponse): void {
  expect({ where, status: res.status >= 500 ? res.status : 'ok', body: res.status >= 500 ? res.text.slice(0, 200) : '' }).toEqual({ where, status: 'ok', body: '' });
}

/** Slack's shapes with hostile values where Bolt and our handlers read fields. */
const slackPayload = fc.oneof(
  hostileValue,
  fc.record({
    type: fc.constantFrom('block_actions', 'view_submission', 'view_closed', 'shortcut', 'message_action', 'block_suggestion', 'x'),
    user: fc.oneof(fc.record({ id: fc.constantFrom('U0ANA0001', 'U0EVIL001'), username: nastyString }), hostileValue),
    team: fc.oneof(fc.constant({ id: 'T0TEST' }), hostileValue),
    trigger_id: nastyString,
    actions: fc.oneof(fc.array(fc.record({ action_id: fc.constantFrom('approval_approve', 'approval_reject', 'x'), value: nastyString, block_id: nastyString }), { maxLength: 3 }), hostileValue),
    view: fc.oneof(fc.record({ callback_id: fc.constantFrom('approval_reason', 'x'), private_metadata: nastyString, state: hostileValue }), hostileValue),
    container: hostileValue,
    message: hostileValue,
  }),
);
const slackEvent = fc.oneof(
  hostileValue,
  fc.record({
    type: fc.constantFrom('event_callback', 'url_verification', 'app_rate_limited', 'x'),
    token: nastyString,
    challenge: nastyString,
    team_id: fc.constant('T0TEST'),
    api_app_id: fc.constant('A0TEST'),
    event: fc.oneof(
      fc.record({ type: fc.constantFrom('message', 'app_mention', 'x'), user: fc.constantFrom('U0ANA0001', 'U0CUSTOMER'), text: nastyString, channel: fc.constantFrom('D0ANA0001', 'C0STAFF', 'x'), ts: nastyString, thread_ts: fc.option(nastyString, { nil: undefined }), subtype: fc.option(nastyString, { nil: undefined }) }),
      hostileValue,
    ),
  }),
);
const telegramUpdate = fc.oneof(
  hostileValue,
  fc.record({
    update_id: fc.oneof(fc.integer(), hostileValue),
    message: fc.oneof(
      fc.record({ message_id: fc.oneof(fc.nat(), hostileValue), date: fc.nat(), chat: fc.oneof(fc.record({ id: fc.oneof(fc.integer(), nastyString), type: fc.constantFrom('private', 'group', 'x') }), hostileValue), from: fc.oneof(fc.record({ id: fc.oneof(fc.integer(), nastyString), is_bot: fc.boolean(), first_name: nastyString }), hostileValue), text: fc.oneof(nastyString, hostileValue), reply_to_message: fc.option(hostileValue, { nil: undefined }) }),
      hostileValue,
    ),
    callback_query: fc.option(fc.oneof(fc.record({ id: nastyString, from: fc.record({ id: fc.oneof(fc.integer(), nastyString), is_bot: fc.boolean(), first_name: nastyString }), data: nastyString, message: fc.option(hostileValue, { nil: undefined }), chat_instance: nastyString }), hostileValue), { nil: undefined }),
  }),
);

describe('hostile input: the Slack and Telegram webhooks', () => {
  let t: TestCoordinator;
  let slack: Awaited<ReturnType<typeof slackApiStandIn>>;
  let telegram: TelegramServer;
  beforeAll(async () => {
    slack = await slackApiStandIn();
    telegram = await startTelegramEmulator();
    const yaml = `
branches:
  - id: lisboa
    name: Lisboa
    managers: [{ id: ana, name: Ana, role: owner, slack: U0ANA0001, telegram: 1001 }]
    agents:
      - { id: lis-slack, channel: slack, botToken: xoxb-hostile, signingSecret: "${SLACK_SECRET}", approvalsChannel: C0APPROVE, staffChannel: C0STAFF }
      - { id: lis-tg, channel: telegram, token: "${TG_TOKEN}", webhookUrl: "https://coordinator.example/webhooks/telegram/lis-tg", webhookSecret: "${TG_SECRET}" }
`;
    t = await startTestCoordinator({ yaml, env: { SLACK_API_URL: slack.url, TELEGRAM_API_ROOT: telegram.config.apiURL, RATE_LIMIT_PER_MIN: '1000000', HEALTH_INTERVAL_MS: '3600000' } });
    await addRequester(t, 'refunds', 'lisboa', 'hostile-webhook-agent-token-01');
    await until('both bots up', async () => (await t.running.store.agents.find({ where: { status: 'up', kind: 'bot' } })).length === 2);
    const res = await t.call('/api/approvals', { method: 'POST', token: 'hostile-webhook-agent-token-01', json: { branchId: 'lisboa', actionType: 'refund', summary: 'Refund 5 EUR' } });
    expect(res.status).toBe(201);
    // Its prompts go out after the answer: let them, so only the hostile requests could change the store.
    await until('the prompts sent', async () => (await t.running.store.prompts.count({ status: { in: ['queued', 'sending', 'waiting'] } })) === 0);
    await t.running.coordinator.prompts.idle();
  });
  afterAll(async () => {
    await t.close();
    await slack.close();
    await telegram.stop();
  });

  const unchangedAfter = async (where: string, send: () => Promise<RawResponse>, expected: number[]) => {
    const store = t.running.store;
    const before = await storeDigest(store);
    const seq = await auditHead(store);
    const res = await send();
    expect({ where, status: expected.includes(res.status) ? 'refused' : res.status }).toEqual({ where, status: 'refused' });
    expect({ where, changed: changedCollections(before, await storeDigest(store)) }).toEqual({ where, changed: [] });
    expect({ where, audited: (await auditSince(store, seq)).map((e) => e.type).filter((x) => !REFUSAL_AUDIT.test(x)) }).toEqual({ where, audited: [] });
  };

  it('unsigned, wrongly signed and stale Slack requests are refused and change nothing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(slackPayload.map(interactionBody), slackEvent.map((e) => JSON.stringify(e)), fc.string({ unit: 'binary', maxLength: 300 })), fc.constantFrom('none', 'wrong', 'stale', 'garbage'), async (body, how) => {
        const headers: Record<string, string> = { 'content-type': body.startsWith('payload=') ? 'application/x-www-form-urlencoded' : 'application/json' };
        if (how === 'wrong') Object.assign(headers, slackSignature('not-the-secret', body), { 'content-type': headers['content-type'] });
        if (how === 'stale') Object.assign(headers, slackSignature(SLACK_SECRET, body, Math.floor(Date.now() / 1000) - 3600), { 'content-type': headers['content-type'] });
        if (how === 'garbage') Object.assign(headers, { 'x-slack-signature': 'v0=%E0%A4%A', 'x-slack-request-timestamp': 'NaN' });
        await unchangedAfter(`slack ${how}`, () => rawRequest(t.url, { method: 'POST', path: '/webhooks/slack/lis-slack', headers, body }), [400, 401, 403]);
      }),
      { numRuns: RUNS },
    );
  }, 300_000);

  it('correctly signed Slack requests with any content never reach a 5xx', async () => {
    // Bolt waits up to 3 s for an ack of a request it does not recognise: send them all at once (sampled, not shrunk).
    const bodies = fc.sample(fc.oneof(slackPayload.map(interactionBody), slackEvent.map((e) => JSON.stringify(e)), fc.string({ maxLength: 200 })), { numRuns: RUNS, seed: 14 });
    const answers = await Promise.all(
      bodies.map((body) => {
        const headers = { ...slackSignature(SLACK_SECRET, body), 'content-type': body.startsWith('payload=') ? 'application/x-www-form-urlencoded' : 'application/json' };
        return rawRequest(t.url, { method: 'POST', path: '/webhooks/slack/lis-slack', headers, body }).then((res) => [body, res] as const);
      }),
    );
    for (const [body, res] of answers) noServerError(`slack signed ${body.slice(0, 160)}`, res);
    expect((await t.call('/health', { token: null })).status).toBe(200);
  }, 300_000);

  it('found by this suite: a signed event_callback whose event is not an object is a 400 JSON error, not Bolt\'s 500', async () => {
    for (const event of ['0', 'false', '""', 'null']) {
      const body = `{"type":"event_callback","team_id":"T0TEST","api_app_id":"A0TEST","event":${event}}`;
      const res = await rawRequest(t.url, { method: 'POST', path: '/webhooks/slack/lis-slack', headers: { ...slackSignature(SLACK_SECRET, body), 'content-type': 'application/json' }, body });
      expect({ event, status: res.status }).toEqual({ event, status: 400 });
      expect(JSON.parse(res.text)).toEqual({ error: { code: 'validation_failed', message: 'Not a Slack request this app can process' } });
    }
  });

  it('Telegram updates without the secret token are refused and change nothing', async () => {
    await fc.assert(
      fc.asyncProperty(telegramUpdate, fc.constantFrom(undefined, 'guess', '%E0%A4%A', ''), fc.constantFrom('lis-tg', 'lis-slack', 'nope', '%E0%A4%A'), async (update, secret, agent) => {
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        if (secret !== undefined) headers['x-telegram-bot-api-secret-token'] = secret;
        await unchangedAfter(`telegram ${agent} secret=${secret}`, () => rawRequest(t.url, { method: 'POST', path: `/webhooks/telegram/${agent}`, headers, body: JSON.stringify(update) ?? 'null' }), [400, 401, 404]);
      }),
      { numRuns: RUNS },
    );
  }, 300_000);

  it('Telegram updates with the secret token and any content never reach a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(telegramUpdate, async (update) => {
        const headers = { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': TG_SECRET };
        noServerError(`telegram ${JSON.stringify(update)?.slice(0, 120)}`, await rawRequest(t.url, { method: 'POST', path: '/webhooks/telegram/lis-tg', headers, body: JSON.stringify(update) ?? 'null' }));
      }),
      { numRuns: RUNS },
    );
    expect((await t.call('/health', { token: null })).status).toBe(200);
  }, 300_000);
});
