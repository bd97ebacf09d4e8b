import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { startTelegramEmulator, type StoredBotUpdate, type TelegramServer } from '../helpers/telegram-emulator.js';
import { addRequester, startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator.js';
import { until } from '../helpers/until.js';

export const AGENT_TOKEN = 'agent-token-mcp-tests-000001';
const TG_TOKEN = '123456:MCP-TESTS-for-the-emulator';

const YAML = `
branches:
  - id: lisboa
    name: Lisboa
    managers:
      - { id: ana, name: Ana, role: owner, telegram: 1001 }
    agents:
      - { id: lis-tg, channel: telegram, token: "\${TG_TOKEN}", pollMinIntervalMs: 50 }
  - id: porto
    name: Porto
    managers:
      - { id: bruno, name: Bruno, role: owner, telegram: 1002 }
`;

/** A real coordinator (file store, loopback HTTP) with a Telegram bot on the emulator, the action agent `refunds` at lisboa, and a manager and an operator token. */
export interface McpWorld {
  t: TestCoordinator;
  telegram: TelegramServer;
  managerToken: string;
  operatorToken: string;
  /** Waits for the Telegram prompt whose text includes `summary`, then Ana presses Approve (or Reject). */
  decideInTelegram(summary: string, choice?: 'approve' | 'reject'): Promise<void>;
  close(): Promise<void>;
}

export async function startMcpWorld(env: Record<string, string> = {}): Promise<McpWorld> {
  const telegram = await startTelegramEmulator();
  const t = await startTestCoordinator({ yaml: YAML, env: { TG_TOKEN, TELEGRAM_API_ROOT: telegram.config.apiURL, HEALTH_INTERVAL_MS: '1000', ...env } });
  await addRequester(t, 'refunds', 'lisboa', AGENT_TOKEN);
  await until('lis-tg up', async () => (await t.running.store.agents.get('lis-tg'))?.status === 'up');
  const mint = async (role: string, subject: string) => {
    const res = await t.call('/api/tokens', { method: 'POST', json: { role, subject } });
    if (res.status !== 201) throw new Error(`could not mint a ${role} token: ${JSON.stringify(res.body)}`);
    return String(res.body.token);
  };
  return {
    t,
    telegram,
    managerToken: await mint('manager', 'ana'),
    operatorToken: await mint('operator', 'ops'),
    async decideInTelegram(summary, choice = 'approve') {
      const sent = await until(`the Telegram prompt for "${summary}"`, () =>
        telegram.storage.botMessages.find((m: StoredBotUpdate) => String(m.message.chat_id) === '1001' && String(m.message.text).includes(summary) && (m.message.reply_markup as { inline_keyboard?: unknown[] } | undefined)?.inline_keyboard?.length),
      );
      const buttons = (sent.message.reply_markup as { inline_keyboard: Array<Array<{ callback_data: string }>> }).inline_keyboard[0];
      const ana = telegram.getClient(TG_TOKEN, { userId: 1001, chatId: 1001, firstName: 'Ana' });
      await ana.sendCallback(ana.makeCallbackQuery(buttons[choice === 'approve' ? 0 : 1].callback_data, { message: { message_id: sent.messageId } }));
    },
    async close() {
      await t.close();
      await telegram.stop();
    },
  };
}

/** The text of a tool result. */
export const textOf = (result: CallToolResult): string => result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');

/** `callTool`'s result, typed as a tool result (the SDK's own type allows a task result too). */
export async function callTool(client: Client, name: string, args: Record<string, unknown>, options?: Parameters<Client['callTool']>[2]): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args }, undefined, options)) as CallToolResult;
}

/** Structured content of an approval tool's answer. */
// Assertions read many fields of it; `any` keeps them short.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const structured = (result: CallToolResult): any => result.structuredContent;
