import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Socket } from 'node:net';
import { restartTelegramEmulator, startTelegramEmulator, type StoredBotUpdate, type TelegramServer } from '../helpers/telegram-emulator.js';
import { addRequester, startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator.js';
import { until } from '../helpers/until.js';

/** Listens on `port`, accepts every connection and never answers: a platform that hangs. */
async function blackhole(port: number): Promise<{ close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const TG_TOKEN = '777001:PROMPT-OUTBOX-TESTS';
const AGENT_TOKEN = 'agt_prompt-outbox-tests-0123456789';
const LONG = 120_000;

/** Ana and Rui are both reachable only on Telegram: when it goes, nobody can be asked until it comes back. */
const YAML = `
branches:
  - id: lisboa
    name: Lisboa
    managers:
      - { id: ana, name: Ana, role: owner, telegram: 1001 }
      - { id: rui, name: Rui, role: owner, telegram: 1002 }
    agents:
      - { id: lis-tg, channel: telegram, token: "\${TG_TOKEN}", pollMinIntervalMs: 50 }
`;

/**
 * Approval prompts go through a durable outbox: the request is answered once
 * the approval and its prompts are stored, whatever the chat platforms do;
 * prompts wait for a channel that is down and go out, once, when it is back,
 * across a restart of the coordinator. Telegram is the real Bot API emulator,
 * stopped and started again.
 */
describe('approval prompts never block the requester and never miss a manager', () => {
  let telegram: TelegramServer;
  let t: TestCoordinator;
  let hole: { close(): Promise<void> } | undefined;

  const promptsTo = (chatId: string, code: string) => telegram.storage.botMessages.filter((m: StoredBotUpdate) => String(m.message.chat_id) === chatId && String(m.message.text).includes(code));
  const agentStatus = async () => (await t.running.store.agents.get('lis-tg'))?.status;
  const create = (summary: string, headers: Record<string, string> = {}) =>
    t.call('/api/approvals', { method: 'POST', token: AGENT_TOKEN, json: { branchId: 'lisboa', actionType: 'refund', summary }, headers });

  beforeAll(async () => {
    telegram = await startTelegramEmulator();
    t = await startTestCoordinator({ yaml: YAML, env: { TG_TOKEN, TELEGRAM_API_ROOT: telegram.config.apiURL, HEALTH_INTERVAL_MS: '1000', HEALTH_RETRIES: '0' } });
    await addRequester(t, 'refunds', 'lisboa', AGENT_TOKEN);
    await until('lis-tg up', async () => (await agentStatus()) === 'up', 30_000);
  }, LONG);
  afterAll(async () => {
    await hole?.close();
    await t?.close();
    await telegram?.stop();
  });

  it(
    'answers at once while Telegram is unreachable (prompts stored, not sent); they go out once each when it is back',
    async () => {
      await telegram.stop();
      // Worse than refused: the platform's address accepts connections and never answers (the agent is still
      // believed up, so every send hangs on it), yet no request waits for one.
      hole = await blackhole(telegram.config.port);
      const codes: string[] = [];
      const slowest = { ms: 0 };
      for (let i = 0; i < 10; i++) {
        const started = Date.now();
        const res = await create(`Refund ${i} EUR during the outage`);
        slowest.ms = Math.max(slowest.ms, Date.now() - started);
        expect(res.status).toBe(201);
        expect(res.body.approval.unreached).toHaveLength(2);
        codes.push(res.body.approval.code as string);
      }
      // A generous bound (not a timing test): the real figure is in npm run bench.
      expect(slowest.ms).toBeLessThan(2000);
      // Every prompt is in the store before the answer.
      const approvals = await t.running.store.approvals.find({ where: { status: 'pending' } });
      const ids = approvals.filter((a) => codes.includes(a.code)).map((a) => a.id);
      expect(await t.running.store.prompts.count({ approvalId: { in: ids } })).toBe(20);

      // Who has not been reached yet is on the approval (staff see who; the requester how many).
      const pending = await t.running.store.approvals.get(ids[0]!);
      expect(pending?.unreached?.map((u) => u.managerId).sort()).toEqual(['ana', 'rui']);
      const staff = await t.call(`/api/approvals/${ids[0]}`);
      expect(staff.body.approval.unreached).toEqual(expect.arrayContaining([expect.objectContaining({ managerId: 'ana' })]));
      const requester = await t.call(`/api/approvals/${ids[0]}`, { token: AGENT_TOKEN });
      expect(requester.body.approval.unreached).toHaveLength(2);
      expect(JSON.stringify(requester.body.approval.unreached)).not.toMatch(/ana|rui|1001/);
      await hole.close();
      hole = undefined;
      telegram = await restartTelegramEmulator(telegram);
      await until('lis-tg up again', async () => (await agentStatus()) === 'up', 30_000);
      await until('every prompt out', () => codes.every((c) => promptsTo('1001', c).length > 0 && promptsTo('1002', c).length > 0), 60_000);
      await t.running.coordinator.prompts.idle();
      // Once each: no manager gets the same approval twice.
      for (const code of codes) expect([code, promptsTo('1001', code).length, promptsTo('1002', code).length]).toEqual([code, 1, 1]);
      const after = await t.running.store.approvals.get(ids[0]!);
      expect(after?.unreached).toEqual([]);
      expect(after?.deliveries.filter((d) => d.status === 'sent').map((d) => d.managerId).sort()).toEqual(['ana', 'rui']);
      expect(await t.running.store.prompts.count({ approvalId: { in: ids }, status: 'sent' })).toBe(20);
    },
    LONG,
  );

  it(
    'a prompt waiting for its channel survives a restart of the coordinator and goes out when the channel is back',
    async () => {
      await telegram.stop();
      await until('lis-tg down', async () => (await agentStatus()) === 'down', 30_000);
      const res = await create('Refund 77 EUR across a restart');
      expect(res.status).toBe(201);
      const { id, code } = res.body.approval as { id: string; code: string };
      await until('waiting for a channel', async () => (await t.running.store.approvals.get(id))?.unreached?.every((u) => u.state === 'waiting'));
      // The store shows the approval's new state once applied; its audit events follow once that is on disk.
      const waitingEvents = () => t.running.store.auditEvents.find({ where: { approvalId: id, type: 'approval.delivery-waiting' } });
      await until('both waits audited', async () => (await waitingEvents()).length >= 2);
      const audit = await waitingEvents();
      expect(audit).toHaveLength(2);
      expect(audit[0]!.data).toMatchObject({ reason: 'no agent up on telegram' });

      await t.restart(async () => {
        telegram = await restartTelegramEmulator(telegram);
      });
      await until('lis-tg up after the restart', async () => (await agentStatus()) === 'up', 30_000);
      await until('both prompts out', () => promptsTo('1001', code).length > 0 && promptsTo('1002', code).length > 0, 60_000);
      await t.running.coordinator.prompts.idle();
      expect([promptsTo('1001', code).length, promptsTo('1002', code).length]).toEqual([1, 1]);
      expect((await t.running.store.approvals.get(id))?.unreached).toEqual([]);
    },
    LONG,
  );

  it('a decided approval sends nothing more: its waiting prompts are dropped', async () => {
    await telegram.stop();
    await until('lis-tg down', async () => (await agentStatus()) === 'down', 30_000);
    const res = await create('Refund 5 EUR, decided on the dashboard first');
    const { id, code } = res.body.approval as { id: string; code: string };
    await until('waiting', async () => (await t.running.store.prompts.count({ approvalId: id, status: 'waiting' })) === 2);
    expect((await t.call(`/api/approvals/${id}/decision`, { method: 'POST', json: { decision: 'approve' } })).status).toBe(200);
    expect(await t.running.store.prompts.count({ approvalId: id, status: 'dropped' })).toBe(2);
    expect((await t.running.store.approvals.get(id))?.unreached).toEqual([]);
    telegram = await restartTelegramEmulator(telegram);
    await until('lis-tg up again', async () => (await agentStatus()) === 'up', 30_000);
    await new Promise((r) => setTimeout(r, 500));
    await t.running.coordinator.prompts.idle();
    expect(promptsTo('1001', code)).toHaveLength(0);
  }, LONG);
});
