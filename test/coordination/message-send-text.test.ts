import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { fakeChannels } from '../helpers/fake-channel.js';
import { addRequester, startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator.js';

const YAML = `
branches:
  - id: lisboa
    name: Lisboa
    managers: [{ id: ana, name: Ana, role: owner, telegram: 1001 }]
    agents: [{ id: lis-tg, channel: telegram, token: t }]
`;
const AGENT = 'message-send-agent-token-0001';

describe('message.send text is shown to the manager exactly as the customer gets it', () => {
  let t: TestCoordinator;
  beforeAll(async () => {
    t = await startTestCoordinator({ yaml: YAML, channels: fakeChannels(['telegram']).registry });
    await addRequester(t, 'replier', 'lisboa', AGENT);
  });
  afterAll(async () => {
    await t.close();
  });
  const ask = (text: string) => t.call('/api/approvals', { method: 'POST', token: AGENT, json: { branchId: 'lisboa', actionType: 'message.send', summary: 'Reply', details: { chatId: '5550001', text } } });

  it.each([
    ['vertical tabs that push the end of the text out of the prompt', 'Your order is ready.' + '\u000b'.repeat(420) + 'URGENT: pay the fee to IBAN PT50 0000'],
    ['a right-to-left override that reorders what is displayed', 'Refund of \u202e0001\u202c EUR approved'],
    ['a NUL', 'hello\u0000world'],
  ])('refuses %s (400, nothing stored)', async (_what, text) => {
    const before = await t.running.store.approvals.count();
    const res = await ask(text);
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body.error.details)).toMatch(/control characters and bidirectional overrides are refused/);
    expect(await t.running.store.approvals.count()).toBe(before);
  });

  it('accepts ordinary text with line breaks, accents and emoji', async () => {
    expect((await ask('Olá Rui,\nO seu reembolso está a caminho. 👍')).status).toBe(201);
  });
});
