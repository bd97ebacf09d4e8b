/**
 * Cost of one customer message through the conversation pipeline — flood
 * check, contact upsert, message stored, responder (FAQ match), reply sent
 * and stored, conversation updated — on the file store, against the bare
 * minimum a message needs (one durable insert with better-sqlite3, same
 * pragmas), interleaved A B A B in one run, one message at a time and with
 * every contact writing at once. The bot is a stand-in that answers at once.
 */
import { BUILTIN_CHANNELS } from '/work/main/src/bots/channels.js';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AgentHost } from '/work/main/src/branches/agent-host.js';
import { coordinatorConfigSchema, type CoordinatorConfig } from '/work/main/src/config/config-schema.js';
import { closeLogger, createLogger } from '/work/main/src/config/logger.js';
import { systemClock } from '/work/main/src/core/clock.js';
import { AuditLog } from '/work/main/src/coordination/audit-log.js';
import { EventBus } from '/work/main/src/coordination/event-bus.js';
import { ConversationService } from '/work/main/src/conversations/conversation-service.js';
import { SqliteStore } from '/work/main/src/storage/sqlite/sqlite-store.js';
import { interleave, ratio, ROUNDS, show, spread } from '/work/main/bench/interleave.js';

const N = Number(process.env.BENCH_MESSAGES ?? 1000);
const CONTACTS = 200;
const QUESTIONS = ['Qual o preço do DÓLAR?', 'what is the euro rate', 'horário de sábado?', 'onde fica a loja?'];

async function ours(parent: string, together: boolean): Promise<{ rate: number; replies: number; commits: number }> {
  const dir = mkdtempSync(join(parent, 'ours-'));
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
  const send = (i: number) => {
    const who = String(5000 + (i % CONTACTS));
    return service.handleInbound({ agentId: 'lis-tg', channel: 'telegram', chatId: who, senderId: who, senderName: `Customer ${who}`, text: QUESTIONS[i % QUESTIONS.length]!, at: new Date().toISOString() });
  };
  // Together: every contact writes at once, each one's messages in order (as customers do); else one message at a time.
  const contact = async (c: number) => {
    for (let i = c; i < N; i += CONTACTS) await send(i);
  };
  const started = process.hrtime.bigint();
  if (together) await Promise.all(Array.from({ length: CONTACTS }, (_, c) => contact(c)));
  else for (let i = 0; i < N; i++) await send(i);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const commits = store.commit.stats.batches / N;
  await store.close();
  await closeLogger(logger);
  return { rate: N / seconds, replies, commits };
}

async function bare(parent: string): Promise<number> {
  const dir = mkdtempSync(join(parent, 'bare-'));
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
  const dir = mkdtempSync(join(tmpdir(), 'bench-inbound-'));
  try {
    const one = await interleave(ROUNDS, () => ours(dir, false), () => bare(dir));
    const all = await interleave(ROUNDS, () => ours(dir, true), () => bare(dir));
    const replies = [...one.ours, ...all.ours].every((r) => r.replies === N);
    const [o1, b1, oAll, bAll] = [spread(one.ours.map((r) => r.rate)), spread(one.reference), spread(all.ours.map((r) => r.rate)), spread(all.reference)];
    console.log(`inbound customer messages (${N} per run from ${CONTACTS} contacts, FAQ answered, every one replied: ${replies}; interleaved)`);
    const commits = (runs: Array<{ commits: number }>) => `${spread(runs.map((r) => r.commits)).median.toFixed(2)} commits+fsyncs per message`;
    console.log(`  one at a time          ConversationService  ${show(o1, 'msg/s')}   ${commits(one.ours)}`);
    console.log(`                         bare durable insert  ${show(b1, 'msg/s')}   ratio ${ratio(o1, b1)}`);
    console.log(`  ${CONTACTS} contacts at once   ConversationService  ${show(oAll, 'msg/s')}   ${commits(all.ours)}`);
    console.log(`                         bare durable insert  ${show(bAll, 'msg/s')}   ratio ${ratio(oAll, bAll)}`);
    console.log('  (ours: contact, 2 messages and the conversation in one write unit, durable before the reply is sent and after it is stored: two fsyncs one at a time; the reference: one insert and one fsync per message)');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

import { Session } from 'node:inspector/promises';
import { writeFileSync as wfs, mkdtempSync as mkd } from 'node:fs';
import { tmpdir as td } from 'node:os';
const session = new Session(); session.connect(); await session.post('Profiler.enable');
const parent = mkd(td() + '/inprof-');
await ours(parent, false);
await session.post('Profiler.start');
const r = await ours(parent, false);
const { profile } = await session.post('Profiler.stop');
console.log(r);
wfs('/tmp/prof3/in.cpuprofile', JSON.stringify(profile));
