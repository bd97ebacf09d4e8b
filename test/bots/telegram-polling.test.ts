import { afterEach, describe, expect, it } from '@jest/globals';
import { createServer, type Socket } from 'node:net';
import { TelegramBot } from '../../src/bots/telegram/telegram-bot.js';
import { memoryLogger } from '../helpers/quiet-logger.js';
import { BOT_API_ERRORS, botApiStandIn, type BotApiStandIn } from '../helpers/bot-api-stand-in.js';
import { startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator.js';
import { until } from '../helpers/until.js';

const TOKEN = '123456:TEST-TOKEN-for-the-stand-in';

const YAML = `
branches:
  - id: lisboa
    name: Lisboa
    managers:
      - { id: ana, name: Ana, role: owner, telegram: 1001 }
    agents:
      - { id: lis-tg, channel: telegram, token: "\${TG_TOKEN}", pollMinIntervalMs: 50 }
`;

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

/** The real coordinator and grammY bot, long polling a Bot API stand-in, with 1 s health checks and the default retries. */
async function start(api: BotApiStandIn): Promise<TestCoordinator> {
  const t = await startTestCoordinator({ yaml: YAML, env: { TG_TOKEN: TOKEN, TELEGRAM_API_ROOT: api.url, HEALTH_INTERVAL_MS: '1000' }, health: { restartBaseMs: 200, restartMaxMs: 200 } });
  open.push(t);
  return t;
}

const agent = (t: TestCoordinator) => t.running.store.agents.get('lis-tg');
const transitions = async (t: TestCoordinator) =>
  (await t.running.store.auditEvents.find({ where: { agentId: 'lis-tg', type: 'agent.status' }, orderBy: { field: 'seq' } })).map((e) => (e.data as { to: string }).to);

describe('Telegram long polling failures reach the health probe (getMe alone is not proof)', () => {
  it('409 "terminated by other getUpdates request": down with the reason, not restarted, up again when the other poller stops', async () => {
    const api = await botApiStandIn();
    open.push(api);
    api.answer('getUpdates', () => BOT_API_ERRORS.conflict);
    const t = await start(api);
    const down = await until('lis-tg down', async () => {
      const a = await agent(t);
      return a?.status === 'down' ? a : null;
    });
    expect(down.statusReason).toMatch(/^another process is polling this bot token \(Telegram answered getUpdates 409: Conflict: terminated by other getUpdates request/);
    // getMe kept answering all along: the probe reported what polling sees.
    expect(api.count('getMe')).toBeGreaterThan(2);
    // The retries ran first (a moment of overlap during a deploy is not an outage): 1 failed check + 2 retries.
    expect(await t.running.store.healthChecks.count({ agentId: 'lis-tg', ok: false })).toBeGreaterThanOrEqual(3);

    api.answer('getUpdates', undefined);
    await until('lis-tg up again', async () => (await agent(t))?.status === 'up', 30_000);
    // One start only: it recovered by itself, no restart fought the other poller.
    expect(api.count('deleteWebhook')).toBe(1);
    expect(t.logs.some((e) => /telegram long polling works again \(was: another process is polling this bot token/.test(String(e.message)))).toBe(true);
    // The status change is audited just after it is stored: wait for the audit event, not only the record.
    await until('the recovery audited', async () => (await transitions(t)).at(-1) === 'up');
    expect((await transitions(t)).slice(-2)).toEqual(['down', 'up']);
  }, 45_000);

  it('409 "webhook is active" (a webhook set elsewhere): down, saying so', async () => {
    const api = await botApiStandIn();
    open.push(api);
    api.answer('getUpdates', () => BOT_API_ERRORS.webhookActive);
    const t = await start(api);
    const down = await until('lis-tg down', async () => {
      const a = await agent(t);
      return a?.status === 'down' ? a : null;
    });
    expect(down.statusReason).toMatch(/^a webhook is set for this bot token elsewhere \(Telegram answered getUpdates 409: Conflict: can't use getUpdates method while webhook is active/);
  });

  it('401 on getUpdates while getMe still answers: down at once as needing a person, never restarted', async () => {
    const api = await botApiStandIn();
    open.push(api);
    api.answer('getUpdates', () => BOT_API_ERRORS.unauthorized);
    const t = await start(api);
    const down = await until('lis-tg down', async () => {
      const a = await agent(t);
      return a?.status === 'down' ? a : null;
    });
    expect(down.statusReason).toMatch(/^Telegram refused the token \(401 Unauthorized\) on getUpdates: the token was revoked or is wrong/);
    // Straight to down (no pending retries): a person must act.
    expect((await transitions(t)).filter((s) => s === 'pending')).toEqual([]);
  });

  it('a persistent transient failure (502 on every getUpdates) surfaces after a few tries', async () => {
    const api = await botApiStandIn();
    open.push(api);
    api.answer('getUpdates', () => BOT_API_ERRORS.badGateway);
    const t = await start(api);
    const down = await until(
      'lis-tg down',
      async () => {
        const a = await agent(t);
        return a?.status === 'down' ? a : null;
      },
      30_000,
    );
    expect(down.statusReason).toMatch(/^long polling fails \(\d+ times in a row; last: 502 Bad Gateway\); reconnecting by itself$/);
  }, 40_000);

  it('a send while the Bot API is unreachable fails promptly, so the caller can fall back (it was retried for hours)', async () => {
    const api = await botApiStandIn();
    const t = await start(api);
    await until('lis-tg up', async () => (await agent(t))?.status === 'up');
    await api.close();
    const started = Date.now();
    await expect(t.running.coordinator.local.send('lis-tg', '1001', 'hello')).rejects.toThrow(/Network request for 'sendMessage' failed/);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe('Telegram bot stopped while it is still starting', () => {
  it('aborts the start against a Bot API that never answers, so nothing outlives stop()', async () => {
    const sockets = new Set<Socket>();
    // Accepts connections and never answers (grammY's own timeout is 500 s).
    const hole = createServer((s) => void sockets.add(s));
    await new Promise<void>((resolve) => hole.listen(0, '127.0.0.1', resolve));
    try {
      const port = (hole.address() as { port: number }).port;
      const bot = new TelegramBot({ id: 'tg-stuck', channel: 'telegram', token: '1:stuck', dependsOn: [], enabled: true } as never, { logger: memoryLogger().logger, env: { TELEGRAM_API_ROOT: `http://127.0.0.1:${port}` } });
      const starting = bot.start().then(
        () => 'started',
        () => 'aborted',
      );
      await until('the start connected', () => sockets.size > 0);
      const stopped = Date.now();
      await bot.stop();
      expect(await starting).toBe('aborted');
      expect(Date.now() - stopped).toBeLessThan(2000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => hole.close(resolve));
    }
  });
});
