import { responderSchema } from '../../src/config/responder-schema.js';
import { describe, expect, it } from '@jest/globals';
import { ChannelRegistry } from '../../src/bots/channel-registry.js';
import { startOrder } from '../../src/branches/start-order.js';
import { AgentHosts } from '../../src/branches/agent-host.js';
import { fakeChannels } from '../helpers/fake-channel.js';

describe('start order', () => {
  it('puts every agent after its dependencies, keeping the given order otherwise', () => {
    const agents = [
      { id: 'c', dependsOn: ['b'] },
      { id: 'a', dependsOn: [] },
      { id: 'b', dependsOn: ['a', 'outside'] },
      { id: 'd', dependsOn: [] },
    ];
    expect(startOrder(agents).map((a) => a.id)).toEqual(['a', 'b', 'c', 'd']);
  });
});

describe('channel registry', () => {
  it('refuses a duplicate channel and names the known ones for an unknown channel', () => {
    const { registry } = fakeChannels(['telegram']);
    expect(() => registry.register({ ...registry.get('telegram'), create: () => { throw new Error('unused'); } })).toThrow("channel 'telegram' is already registered");
    expect(() => registry.get('fax')).toThrow("unknown channel 'fax' (registered: telegram)");
    expect(() => new ChannelRegistry().get('fax')).toThrow('(registered: none)');
  });
});

describe('agent hosts', () => {
  it('rejects (never throws synchronously) for an agent no host runs, so callers can catch it', async () => {
    const hosts = new AgentHosts();
    const call = hosts.send('ghost', 'chat', 'hi');
    expect(call).toBeInstanceOf(Promise);
    await expect(call).rejects.toThrow('agent ghost is not running in this process or on any connected runner');
    await expect(hosts.restart('ghost')).rejects.toThrow();
  });
});

describe('local agent host start-up', () => {
  it('starts agents concurrently but each after its dependencies, and does not wait past the timeout', async () => {
    const { LocalAgentHost } = await import('../../src/branches/local-agent-host.js');
    const { memoryLogger } = await import('../helpers/quiet-logger.js');
    const { registry, bots } = fakeChannels(['telegram']);
    const order: string[] = [];
    const delays: Record<string, number> = { slow: 150, dep: 0, free: 0, hung: 1000 };
    const { logger, entries } = memoryLogger();
    const host = new LocalAgentHost({ channels: registry, context: { logger, env: {} }, logger, startTimeoutMs: 400 });
    const agent = (id: string, dependsOn: string[] = []) => ({ id, channel: 'telegram' as const, token: 't', webhookSecret: '', dependsOn, enabled: true });
    const original = registry.get('telegram').create;
    registry.get('telegram').create = async (config, context) => {
      const bot = await original(config, context);
      const start = bot.start.bind(bot);
      bot.start = async () => {
        await new Promise((r) => setTimeout(r, delays[config.id]));
        order.push(config.id);
        await start();
      };
      return bot;
    };
    const started = Date.now();
    await host.startBranches([{ id: 'b', name: 'B', timezone: 'UTC', host: 'local', managers: [], responder: responderSchema.parse({}), agents: [agent('dep', ['slow']), agent('slow'), agent('free'), agent('hung')] }]);
    expect(Date.now() - started).toBeLessThan(1500);
    expect(order).toEqual(['free', 'slow', 'dep']);
    expect(bots.get('dep')!.starts).toBe(1);
    expect(entries.some((e) => /still starting after 400 ms/.test(String(e.message)))).toBe(true);
  });
});
