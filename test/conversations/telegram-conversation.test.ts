import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import emulator from 'telegram-test-api';
import type { StoredBotUpdate, TelegramServer as TelegramServerType } from 'telegram-test-api/lib/telegramServer.js';
import { until } from '../helpers/until.js';
import { startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator.js';

// CommonJS package: its typed default is the module object under NodeNext.
const TelegramServer = emulator as unknown as typeof TelegramServerType;
const TOKEN = '654321:CONVERSATION-TESTS';
const STAFF_GROUP = -100500;

const YAML = `
branches:
  - id: lisboa
    name: Lisboa
    address: Rua Augusta 100
    managers:
      - { id: ana, name: Ana, role: owner, telegram: 1001 }
    agents:
      - { id: lis-tg, channel: telegram, token: "\${TG_TOKEN}", pollMinIntervalMs: 50 }
    responder:
      staff: [{ agent: lis-tg, chat: "${STAFF_GROUP}" }]
      faq:
        - { id: address, keywords: [endereço, address], answer: "Estamos em {address}." }
`;

describe('conversations through the real Telegram adapter and the Bot API emulator', () => {
  let server: TelegramServerType;
  let t: TestCoordinator;

  beforeAll(async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    server = new TelegramServer({ host: '127.0.0.1', port });
    await server.start();
    t = await startTestCoordinator({ yaml: YAML, env: { TG_TOKEN: TOKEN, TELEGRAM_API_ROOT: server.config.apiURL, HEALTH_INTERVAL_MS: '1000' } });
    await until('lis-tg up', async () => (await t.running.store.agents.get('lis-tg'))?.status === 'up');
  });
  afterAll(async () => {
    await t.close();
    await server.stop();
  });

  const botSaid = (chatId: number, match: (text: string) => boolean) =>
    until(`bot message in ${chatId}`, () => server.storage.botMessages.find((m: StoredBotUpdate) => String(m.message.chat_id) === String(chatId) && match(String(m.message.text))));

  it('answers an FAQ, hands off to the staff group, and relays a staff reply back to the customer', async () => {
    const customer = server.getClient(TOKEN, { userId: 5005, chatId: 5005, firstName: 'Rui' });
    await customer.sendCommand(customer.makeCommand('/start'));
    await botSaid(5005, (text) => text.startsWith('Hello! This is Lisboa.'));
    await customer.sendMessage(customer.makeMessage('Qual o ENDERECO?'));
    await botSaid(5005, (text) => text === 'Estamos em Rua Augusta 100.');

    await customer.sendMessage(customer.makeMessage('tenho um problema com o meu pedido'));
    await botSaid(5005, (text) => text.startsWith('Thank you. A person from Lisboa'));
    const note = await botSaid(STAFF_GROUP, (text) => text.includes('Rui (telegram 5005) at Lisboa needs a person'));

    const me = (await (await fetch(`${server.config.apiURL}/bot${TOKEN}/getMe`)).json()) as { result: { id: number } };
    const staff = server.getClient(TOKEN, { userId: 1001, chatId: STAFF_GROUP, firstName: 'Ana', type: 'group', chatTitle: 'Staff' });
    await staff.sendMessage(staff.makeMessage('Olá Rui, vou ver o pedido.', { reply_to_message: { message_id: note.messageId, from: { id: me.result.id, is_bot: true, first_name: 'bot' } } as never }));
    await botSaid(5005, (text) => text === 'Ana: Olá Rui, vou ver o pedido.');

    // A group message that answers nothing of ours is not a customer message.
    await staff.sendMessage(staff.makeMessage('bom dia equipa'));
    await staff.sendMessage(staff.makeMessage('resolve', { reply_to_message: { message_id: note.messageId, from: { id: me.result.id, is_bot: true, first_name: 'bot' } } as never }));
    const contact = await until('contact', () => t.running.store.contacts.findOne({ externalId: '5005' }));
    await until('resolved', async () => (await t.running.store.conversations.get(contact.id))?.state === 'bot');
    expect(await t.running.store.contacts.count({ channel: 'telegram' })).toBe(1);
  });
});
