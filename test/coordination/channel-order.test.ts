import { afterEach, describe, expect, it } from '@jest/globals';
import { fakeChannels } from '../helpers/fake-channel.js';
import { addRequester, startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator.js';
import { until } from '../helpers/until.js';

const yaml = (order: string) => `
defaults: { ${order} }
branches:
  - id: lisboa
    name: Lisboa
    managers:
      - { id: ana, name: Ana, role: owner, slack: U0ANA0001, telegram: 1001 }
      - { id: rui, name: Rui, role: owner, slack: U0RUI0001, telegram: 1002, prefer: [slack] }
    agents:
      - { id: lis-tg, channel: telegram, token: t }
      - { id: lis-slack, channel: slack, botToken: b, signingSecret: s }
`;

const open: TestCoordinator[] = [];
afterEach(async () => {
  for (const t of open.splice(0)) await t.close();
});

async function promptedVia(order: string): Promise<Record<string, string>> {
  const { registry } = fakeChannels(['telegram', 'slack']);
  const t = await startTestCoordinator({ yaml: yaml(order), channels: registry, env: { HEALTH_INTERVAL_MS: '1000' } });
  open.push(t);
  await addRequester(t, 'refunds', 'lisboa', 'channel-order-agent-token-01');
  await until('both bots up', async () => (await t.running.store.agents.find({ where: { kind: 'bot', status: 'up' } })).length === 2);
  const res = await t.call('/api/approvals', { method: 'POST', token: 'channel-order-agent-token-01', json: { branchId: 'lisboa', actionType: 'refund', summary: 'Refund 5 EUR' } });
  expect(res.status).toBe(201);
  // The request is answered before the prompts go out: wait for them.
  await t.running.coordinator.prompts.idle();
  const stored = await t.running.store.approvals.get(res.body.approval.id);
  return Object.fromEntries(stored!.deliveries.filter((d) => d.status === 'sent' && d.managerId).map((d) => [d.managerId!, d.channel]));
}

describe('defaults.channelOrder: where a manager without `prefer` is asked first', () => {
  it('is slack, telegram, whatsapp by default', async () => {
    expect(await promptedVia('autonomy: supervised')).toEqual({ ana: 'slack', rui: 'slack' });
  });

  it('comes from the config, and a manager\'s own `prefer` still wins', async () => {
    expect(await promptedVia('channelOrder: [telegram, slack]')).toEqual({ ana: 'telegram', rui: 'slack' });
  });
});
