/**
 * Cost of one customer message through the conversation pipeline — flood
 * check, contact upsert, message stored, responder (FAQ match), reply sent
 * and stored, conversation updated — on the file store, against the bare
 * minimum a message needs (one durable insert with better-sqlite3, same
 * pragmas), measured in one run. The bot is a stand-in that answers at once.
 */
import { BUILTIN_CHANNELS } from '../src/bots/channels.js';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentHost } from '../src/branches/agent-host.js';
import { coordinatorConfigSchema, type CoordinatorConfig } from '../src/config/config-schema.js';
import { closeLogger, createLogger } from '../src/config/logger.js';
import { systemClock } from '../src/core/clock.js';
import { AuditLog } from '../src/coordination/audit-log.js';
import { EventBus } from '../src/coordination/event-bus.js';
import { ConversationService } from '../src/conversations/conversation-service.js';
import { SqliteStore } from '../src/storage/sqlite/sqlite-store.js';

const N = Number(process.env.BENCH_MESSAGES ?? 2000);
const CONTACTS = 200;
const QUESTIONS = ['Qual o preço do DÓLAR?', 'what is the euro rate', 'horário de sábado?', 'onde fica a loja?'];

async function ours(dir: string): Promise<{ rate: number; replies: number }> {
  const store = SqliteStore.open({ dataDir: dir });
  const logger = createLogger({ level: 'error', console: false, dir: join(dir, 'logs') });
  const config = coordinatorConfigSchema.parse({
    branches: [
      {
        id: 'lisboa',
        name: 'Lisboa',
        agents: [{ id: 'lis-tg', channel: 'telegram', token: 't' }],
        responder: {
          rates: { USD: { buy: 0.91, sell: 0.95 }, EUR: { buy: 1, sell: 1 } },
          limits: { inboundPerMinute: 1000, autoRepliesPerWindow: 1000 },
          faq: [
            { id: 'usd', keywords: ['dólar', 'dollar'], answer: '{rates.USD}' },
            { id: 'eur', keywords: ['euro'], answer: '{rates.EUR}' },
            { id: 'hours', keywords: ['horário'], answer: '{hours}' },
            { id: 'address', keywords: ['onde fica'], answer: '{address}' },
          ],
        },
      },
    ],
  }) as CoordinatorConfig;
  let replies = 0;
  const hosts = { send: async (_agent: string, chatId: string) => ({ chatId, messageId: String(++replies) }) } as unknown as AgentHost;
  const service = new ConversationService({ store, hosts, bus: new EventBus(logger), audit: new AuditLog({ store, clock: systemClock }), clock: systemClock, logger, channels: BUILTIN_CHANNELS, config: () => config });
  const started = process.hrtime.bigint();
  for (let i = 0; i < N; i++) {
    const who = String(5000 + (i % CONTACTS));
    await service.handleInbound({ agentId: 'lis-tg', channel: 'telegram', chatId: who, senderId: who, senderName: `Customer ${who}`, text: QUESTIONS[i % QUESTIONS.length]!, at: new Date().toISOString() });
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await store.close();
  await closeLogger(logger);
  return { rate: N / seconds, replies };
}

function bare(dir: string): number {
  const db = new Database(join(dir, 'bare.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE messages (id INTEGER PRIMARY KEY, contact TEXT, text TEXT, at TEXT)');
  const insert = db.prepare('INSERT INTO messages (contact, text, at) VALUES (?, ?, ?)');
  const started = process.hrtime.bigint();
  for (let i = 0; i < N; i++) insert.run(String(5000 + (i % CONTACTS)), QUESTIONS[i % QUESTIONS.length], new Date().toISOString());
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  db.close();
  return N / seconds;
}

export async function run(): Promise<void> {
  const a = mkdtempSync(join(tmpdir(), 'bench-inbound-'));
  const b = mkdtempSync(join(tmpdir(), 'bench-inbound-bare-'));
  try {
    const { rate, replies } = await ours(a);
    const bareRate = bare(b);
    console.log(`inbound customer messages (${N} from ${CONTACTS} contacts, FAQ answered; ${replies} replies sent)`);
    console.log(`  ConversationService      ${rate.toFixed(0).padStart(8)} msg/s`);
    console.log(`  bare durable insert      ${bareRate.toFixed(0).padStart(8)} msg/s`);
    console.log(`  ratio ours/bare          ${(rate / bareRate).toFixed(2)}  (ours makes 6 durable writes per message: contact, 2 messages, 3 conversation updates)`);
  } finally {
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
}
