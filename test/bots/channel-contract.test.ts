import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { builtinChannels } from '../../src/bots/channels.js';
import { parseConfig } from '../../src/config/config-file.js';
import { memoChannel, memoSent } from '../fixtures/memo-channel.js';
import { addRequester, startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator.js';
import { until } from '../helpers/until.js';

/**
 * A channel is its factory plus one registry line: `memo` (test/fixtures,
 * shown in docs/architecture.md) is registered here and nowhere else, and the
 * config, the managers' identities, webhooks, the responder and approvals all
 * work through it.
 */
const YAML = `
branches:
  - id: lisboa
    name: Lisboa
    managers:
      - { id: ana, name: Ana, role: owner, identities: { memo: ana-chat } }
      - { id: rui, name: Rui, memo: rui-chat }
    agents:
      - { id: lis-memo, channel: memo, greeting: Olá }
defaults:
  channelOrder: [memo, telegram]
`;
const AGENT_TOKEN = 'agt_memo-test-token-0123456789abcdef';

describe('a channel added by one registry line', () => {
  let t: TestCoordinator;
  const channels = builtinChannels().register(memoChannel);
  const post = (body: unknown) => t.call('/webhooks/memo/lis-memo', { method: 'POST', token: null, json: body });

  beforeAll(async () => {
    t = await startTestCoordinator({ yaml: YAML, channels });
    await addRequester(t, 'refunds', 'lisboa', AGENT_TOKEN);
    await until('lis-memo up', async () => (await t.running.store.agents.get('lis-memo'))?.status === 'up');
  });
  afterAll(async () => {
    await t.close();
  });

  it('reads its agent fields and the managers named on it (identities map or shorthand)', () => {
    const branch = t.running.coordinator.settings.config.branches[0]!;
    expect(branch.agents[0]).toMatchObject({ id: 'lis-memo', channel: 'memo', greeting: 'Olá' });
    expect(branch.managers.map((m) => m.identities)).toEqual([{ memo: 'ana-chat' }, { memo: 'rui-chat' }]);
  });

  it('customers writing to it reach the responder and get an answer on it', async () => {
    const before = memoSent.length;
    expect((await post({ from: 'cust-1', text: 'hello' })).status).toBe(200);
    await until('a contact and a reply', async () => (await t.running.store.contacts.findOne({ channel: 'memo', externalId: 'cust-1' })) !== null && memoSent.slice(before).some((m) => m.chatId === 'cust-1'));
  });

  it('approval prompts reach its managers in the configured order, and a tap from a manager decides', async () => {
    const res = await t.call('/api/approvals', { method: 'POST', token: AGENT_TOKEN, json: { branchId: 'lisboa', actionType: 'refund', summary: 'Refund 20 EUR' } });
    expect(res.status).toBe(201);
    const id = res.body.approval.id as string;
    await until('prompts to both managers', () => Promise.resolve(['ana-chat', 'rui-chat'].every((chat) => memoSent.some((m) => m.chatId === chat && m.text.includes('Refund 20 EUR')))));
    expect(memoSent.find((m) => m.chatId === 'ana-chat' && m.text.includes('Refund 20 EUR'))!.text).toMatch(/^Olá! Refund 20 EUR/);
    // Someone who is not a manager is refused; the approval stays pending.
    const stranger = await post({ from: 'cust-1', approve: id });
    expect(stranger.body).toMatchObject({ ok: false, text: 'You are not allowed to decide this.' });
    expect((await t.running.store.approvals.get(id))?.status).toBe('pending');
    const ana = await post({ from: 'ana-chat', approve: id });
    expect(ana.body).toMatchObject({ ok: true });
    await until('approved', async () => (await t.running.store.approvals.get(id))?.status === 'approved');
    await until('every copy shows the outcome', () => Promise.resolve(memoSent.filter((m) => m.text.startsWith('approved by')).length >= 2));
  });

  it('a webhook for an agent that is not on this channel is a 404, not a crash', async () => {
    expect((await t.call('/webhooks/memo/nobody', { method: 'POST', token: null, json: { from: 'x', text: 'y' } })).status).toBe(404);
  });
});

describe('config validation comes from the registry', () => {
  const channels = builtinChannels().register(memoChannel);
  const issues = (tree: unknown, registry = channels) => {
    try {
      parseConfig(tree, {}, registry);
      return [];
    } catch (error) {
      return (error as { issues: Array<{ path: string; message: string }> }).issues;
    }
  };

  it('names the registered channels for an unknown one, in agents, prefer and channelOrder', () => {
    const found = issues({ defaults: { channelOrder: ['fax'] }, branches: [{ id: 'b', name: 'B', managers: [{ id: 'm', name: 'M', prefer: ['fax'] }], agents: [{ id: 'a', channel: 'fax' }] }] });
    expect(found.map((i) => i.path).sort()).toEqual(['branches[0].agents[0].channel', 'branches[0].managers[0].prefer[0]', 'defaults.channelOrder[0]']);
    expect(found.every((i) => i.message.includes('memo') && i.message.includes('telegram'))).toBe(true);
  });

  it('without the registry line the channel does not exist', () => {
    expect(issues({ branches: [{ id: 'b', name: 'B', agents: [{ id: 'a', channel: 'memo' }] }] }, builtinChannels())[0]?.message).toMatch(/expected channel to be one of slack, telegram, whatsapp/);
  });

  it('checks identities with the channel rule, and refuses one given twice differently', () => {
    const tree = (manager: Record<string, unknown>) => ({ branches: [{ id: 'b', name: 'B', managers: [{ id: 'm', name: 'M', ...manager }] }] });
    expect(issues(tree({ identities: { telegram: 'abc' } }))[0]).toMatchObject({ path: 'branches[0].managers[0].identities.telegram' });
    expect(issues(tree({ identities: { fax: '1' } }))[0]?.path).toMatch(/identities/);
    expect(issues(tree({ telegram: 1, identities: { telegram: '2' } }))[0]).toMatchObject({ path: 'branches[0].managers[0].identities.telegram' });
    expect(parseConfig(tree({ telegram: 42, identities: { whatsapp: '+351910000001' } }), {}, channels).branches[0]!.managers[0]!.identities).toEqual({ telegram: '42', whatsapp: '+351910000001' });
  });

  it('the default channel order is the registry order', () => {
    expect(parseConfig({}, {}, channels).defaults.channelOrder).toEqual([...builtinChannels().names(), 'memo']);
    expect(builtinChannels().names().slice(0, 3)).toEqual(['slack', 'telegram', 'whatsapp']);
  });
});

describe('docs/architecture.md', () => {
  it('shows the minimal channel exactly as tested', async () => {
    const { readFileSync } = await import('node:fs');
    const doc = readFileSync(new URL('../../docs/architecture.md', import.meta.url), 'utf8');
    expect(doc).toContain(readFileSync(new URL('../fixtures/memo-channel.ts', import.meta.url), 'utf8').trimEnd());
  });
});
