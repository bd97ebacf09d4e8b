import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { EMULATOR_BOT_ID, startTelegramEmulator, type StoredBotUpdate, type TelegramServer } from '../helpers/telegram-emulator.js';
import { until } from '../helpers/until.js';
import { startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator.js';

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
  let server: TelegramServer;
  let t: TestCoordinator;

  beforeAll(async () => {
    server = await startTelegramEmulator();
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

    const staff = server.getClient(TOKEN, { userId: 1001, chatId: STAFF_GROUP, firstName: 'Ana', type: 'group', chatTitle: 'Staff' });
    await staff.sendMessage(staff.makeMessage('Olá Rui, vou ver o pedido.', { reply_to_message: { message_id: note.messageId, from: { id: EMULATOR_BOT_ID, is_bot: true, first_name: 'bot' } } as never }));
    await botSaid(5005, (text) => text === 'Ana: Olá Rui, vou ver o pedido.');

    // A group message that answers nothing of ours is not a customer message, even from a non-manager.
    const colleague = server.getClient(TOKEN, { userId: 2002, chatId: STAFF_GROUP, firstName: 'Rita', type: 'group', chatTitle: 'Staff' });
    await colleague.sendMessage(colleague.makeMessage('bom dia equipa, alguém sabe o endereço?'));
    await staff.sendMessage(staff.makeMessage('resolve', { reply_to_message: { message_id: note.messageId, from: { id: EMULATOR_BOT_ID, is_bot: true, first_name: 'bot' } } as never }));
    const contact = await until('contact', () => t.running.store.contacts.findOne({ externalId: '5005' }));
    await until('resolved', async () => (await t.running.store.conversations.get(contact.id))?.state === 'bot');
    await t.running.coordinator.conversations.idle();
    expect(await t.running.store.contacts.count({ channel: 'telegram' })).toBe(1);
    expect(server.storage.botMessages.some((m: StoredBotUpdate) => String(m.message.chat_id) === String(STAFF_GROUP) && String(m.message.text).startsWith('Estamos em'))).toBe(false);
  });
});
