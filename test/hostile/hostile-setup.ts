import { sha256 } from '../../src/core/ids.js';
import { hashPassword } from '../../src/dashboard/password-hash.js';
import { fakeChannels, type FakeBot } from '../helpers/fake-channel.js';
import { ADMIN, startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { until } from '../helpers/until.js';

/** Text that only branch porto's data contains: a response to a lisboa credential must never carry it. */
export const PORTO_MARKER = 'PORTO-SECRET';

export const TOKENS = {
  admin: ADMIN,
  operator: 'hostile-operator-token-000001',
  managerAna: 'hostile-manager-ana-token-0001',
  managerCarla: 'hostile-manager-carla-token-01',
  agentA: 'hostile-agent-lisboa-token-0001',
  agentB: 'hostile-agent-porto-token-00001',
  runnerB: 'hostile-runner-porto-token-0001',
} as const;
export type Role = keyof typeof TOKENS;
/** Credentials scoped to branch lisboa (or to nothing in porto): what they read must not name porto's data. */
export const LISBOA_SCOPED: Role[] = ['agentA', 'managerAna'];
export const PASSWORDS = { olga: 'olga-password-1234', viewer: 'viewer-password-1234' };

export interface HostileWorld {
  t: TestCoordinator;
  bots: Map<string, FakeBot>;
  /** Ids that exist (approvals and codes of both branches, agents, contacts), for path parameters. */
  ids: string[];
}

/**
 * A coordinator with two branches and data in both, and a credential of every
 * kind: the ground every hostile-input test stands on.
 */
export async function hostileWorld(env: Record<string, string> = {}): Promise<HostileWorld> {
  const fast = { N: 1024, r: 8, p: 1 };
  const yaml = `
business: { name: Hostile Test }
approvals:
  teams: { night: { autonomy: autonomous } }
branches:
  - id: lisboa
    name: Lisboa
    managers: [{ id: ana, name: Ana, role: owner, telegram: 1001 }]
    agents: [{ id: lis-tg, channel: telegram, token: t1 }]
  - id: porto
    name: Porto
    managers: [{ id: carla, name: Carla, role: owner, telegram: 2001, whatsapp: "+351920000002" }]
    agents: [{ id: porto-tg, channel: telegram, token: t2 }]
operators:
  - { username: olga, manager: ana, passwordHash: "${await hashPassword(PASSWORDS.olga, fast)}" }
  - { username: viewer, passwordHash: "${await hashPassword(PASSWORDS.viewer, fast)}" }
`;
  const { registry, bots } = fakeChannels(['telegram']);
  // A clock that never moves: no expiry or retry timer fires in the middle of a request under test.
  const t = await startTestCoordinator({ yaml, channels: registry, clock: new ManualClock(Date.now()), env: { RATE_LIMIT_PER_MIN: '1000000', HEALTH_INTERVAL_MS: '3600000', ...env } });
  const store = t.running.store;
  const now = new Date().toISOString();
  for (const [id, branchId] of [['agent-a', 'lisboa'], ['agent-b', 'porto']]) {
    await store.agents.insert({ id, branchId, kind: 'action', status: 'up', dependsOn: [], registeredAt: now, source: 'api', callbackSecret: 'c'.repeat(64) });
  }
  const tokens: Array<[string, 'operator' | 'manager' | 'agent' | 'runner', string, string[]?]> = [
    [TOKENS.operator, 'operator', 'olga'],
    [TOKENS.managerAna, 'manager', 'ana'],
    [TOKENS.managerCarla, 'manager', 'carla'],
    [TOKENS.agentA, 'agent', 'agent-a'],
    [TOKENS.agentB, 'agent', 'agent-b'],
    [TOKENS.runnerB, 'runner', 'runner-porto', ['porto']],
  ];
  for (const [token, role, subject, scope] of tokens) await store.apiTokens.insert({ id: sha256(token), role, subject, createdAt: now, ...(scope ? { scope } : {}) });

  const ids: string[] = ['agent-a', 'agent-b', 'lis-tg', 'porto-tg', 'lisboa', 'porto', 'ana', 'carla'];
  for (const [token, branchId, summary] of [
    [TOKENS.agentA, 'lisboa', 'Refund 10 EUR'],
    [TOKENS.agentB, 'porto', `${PORTO_MARKER} refund 99 EUR`],
  ]) {
    const res = await t.call('/api/approvals', { method: 'POST', token, json: { branchId, actionType: 'refund', summary, details: { note: `${branchId === 'porto' ? PORTO_MARKER : 'lisboa'}-detail` } } });
    if (res.status !== 201) throw new Error(`seeding an approval failed: ${res.status} ${JSON.stringify(res.body)}`);
    ids.push(res.body.approval.id, res.body.approval.code);
  }
  // Prompts go out after the answer: let them, so the properties see a settled store.
  await t.running.coordinator.prompts.idle();
  const porto = bots.get('porto-tg')!;
  porto.emit({ type: 'message', message: { agentId: 'porto-tg', channel: 'telegram', chatId: '555', senderId: '555', senderName: `${PORTO_MARKER} Customer`, text: 'Olá, a que horas abrem?', at: now, messageId: '1' } });
  await until('the porto customer stored', async () => (await store.contacts.count()) === 1);
  ids.push((await store.contacts.find())[0].id);
  return { t, bots, ids };
}
