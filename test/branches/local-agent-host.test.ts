import { afterEach, describe, expect, it } from '@jest/globals';
import { fakeChannels } from '../helpers/fake-channel.js';
import { startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator.js';
import { until } from '../helpers/until.js';

const YAML = `
branches:
  - id: lisboa
    name: Lisboa
    agents:
      - { id: lis-tg, channel: telegram, token: t }
      - { id: lis-wa, channel: whatsapp }
`;

const open: TestCoordinator[] = [];
afterEach(async () => {
  for (const t of open.splice(0)) await t.close();
});

async function start() {
  const { registry, bots } = fakeChannels();
  const t = await startTestCoordinator({ yaml: YAML, channels: registry, env: { HEALTH_INTERVAL_MS: '3600000' } });
  open.push(t);
  await until('lis-tg up', async () => (await t.running.store.agents.get('lis-tg'))?.status === 'up');
  return { t, bot: (id: string) => bots.get(id)! };
}

describe('LocalAgentHost contains the failures of the bots it runs', () => {
  it('a bot whose stop fails is still restarted, and the failure is logged with its reason', async () => {
    const { t, bot } = await start();
    const tg = bot('lis-tg');
    tg.stop = () => Promise.reject(new Error('socket already closed'));
    const res = await t.call('/api/agents/lis-tg/restart', { method: 'POST' });
    expect(res.status).toBe(200);
    expect(tg.starts).toBe(2);
    const line = t.logs.find((e) => e.message === 'agent lis-tg did not stop cleanly before its restart; starting it anyway');
    expect(line).toMatchObject({ level: 'warn', agentId: 'lis-tg' });
    expect(String((line!.error as { message?: string }).message)).toBe('socket already closed');
  });

  it('a bot that fails to stop at shutdown is logged, and the others still stop', async () => {
    const { t, bot } = await start();
    bot('lis-tg').stop = () => Promise.reject(new Error('stuck'));
    await t.close();
    open.splice(open.indexOf(t), 1);
    expect(bot('lis-wa').stops).toBe(1);
    expect(t.logs.find((e) => e.message === 'agent lis-tg did not stop cleanly')).toMatchObject({ level: 'warn', agentId: 'lis-tg' });
  });

  it("a coordinator listener that throws does not unwind into the bot's SDK callback: contained and logged", async () => {
    const { t, bot } = await start();
    t.running.coordinator.hosts.onEvent(() => {
      throw new Error('listener bug');
    });
    const event = { type: 'connection', agentId: 'lis-wa', state: 'open' } as const;
    expect(() => bot('lis-wa').emit(event)).not.toThrow();
    const line = t.logs.find((e) => e.message === 'handling a connection event of agent lis-wa failed');
    expect(line).toMatchObject({ level: 'error', agentId: 'lis-wa' });
  });
});
