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
    expect(() => registry.register({ channel: 'telegram', create: () => { throw new Error('unused'); } })).toThrow("channel 'telegram' is already registered");
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
