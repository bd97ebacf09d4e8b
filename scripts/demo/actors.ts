import type { StoredBotUpdate, TelegramServer } from 'telegram-test-api/lib/telegramServer.js';
import { DEMO_PEOPLE, DEMO_TOKENS } from './demo-config.js';

export interface DemoStats {
  customerMessages: number;
  handoffsAnswered: number;
  approvalsRequested: number;
  decidedInTelegram: number;
  heartbeats: number;
}

const QUESTIONS = [
  'Qual o preço do dólar hoje?',
  'What is your address?',
  'Horário de sábado?',
  'How much is the pound?',
  'Vocês têm reais?',
  'Onde fica a loja?',
  'opening hours please',
];
const ACTIONS = [
  { actionType: 'refund', summary: (n: number) => `Refund 25 EUR to order ${4200 + n} (duplicate charge)` },
  { actionType: 'promotion.create', summary: (n: number) => `Weekend promo #${n}: 0.5% better GBP rate`, riskLevel: 'high' },
  { actionType: 'crm.update', summary: (n: number) => `Tag customer ${n} as "frequent traveller"` },
  { actionType: 'status.read', summary: (n: number) => `Read the cash position (check ${n})` },
];

interface Deps {
  apiUrl: string;
  adminToken: string;
  telegram: TelegramServer;
  log: (line: string) => void;
  /** Time scale of the simulation (1 = real pace; tests use less). */
  pace?: number;
}

const FIRST_PAUSE_MS = 8_000;
const PAUSE_MS = 40_000;
const CYCLE_MS = 90_000;

/**
 * Whether inventory-sync holds its heartbeats `elapsedMs` into the demo (demo
 * time, at real pace): it beats for 8 s, holds them for 40 s, beats for 50 s,
 * holds again, and so on. With the demo's 5 s health interval (a heartbeat is
 * stale after 10 s, then a failed check and two retries 2.5 s apart) it is down
 * about 20 s into each pause — within ~30 s of the start — and up again at the
 * first heartbeat after it.
 * @example heartbeatPaused(3_000) // false; heartbeatPaused(20_000) // true; heartbeatPaused(60_000) // false
 */
export function heartbeatPaused(elapsedMs: number): boolean {
  return elapsedMs >= FIRST_PAUSE_MS && (elapsedMs - FIRST_PAUSE_MS) % CYCLE_MS < PAUSE_MS;
}

/** The emulator answers getMe with this id for every bot. */
const EMULATOR_BOT_ID = 666;
/** Each branch's staff group, and who answers there. */
const STAFF_GROUPS = [
  { token: DEMO_TOKENS.lisboa, chat: DEMO_PEOPLE.staffGroup, person: DEMO_PEOPLE.ana, title: 'Lisboa staff' },
  { token: DEMO_TOKENS.porto, chat: DEMO_PEOPLE.portoStaffGroup, person: DEMO_PEOPLE.bruno, title: 'Porto staff' },
];
const pick = <T>(list: T[]): T => list[Math.floor(Math.random() * list.length)]!;

/**
 * The demo's cast, all through real interfaces: customers and staff write to
 * the bots through the Telegram emulator, managers press the real inline
 * buttons, action agents call the REST API with their own tokens.
 */
export async function startActors(deps: Deps): Promise<{ stats: DemoStats; stop(): void }> {
  const stats: DemoStats = { customerMessages: 0, handoffsAnswered: 0, approvalsRequested: 0, decidedInTelegram: 0, heartbeats: 0 };
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;
  const pace = deps.pace ?? 1;
  const later = (ms: number, fn: () => Promise<unknown> | void) => {
    // A task still running at stop() ends by scheduling its next round: none after stop (it kept jest's worker alive).
    if (stopped) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (stopped) return;
      Promise.resolve(fn()).catch((error: unknown) => deps.log(`demo actor failed: ${error instanceof Error ? error.message : String(error)}`));
    }, ms * pace);
    timers.add(timer);
  };
  const every = (ms: number, fn: () => Promise<unknown> | void) => {
    const loop = () => later(ms * (0.6 + Math.random() * 0.8), async () => {
      await fn();
      loop();
    });
    loop();
  };
  const api = async (path: string, token: string, body?: unknown) => {
    const res = await fetch(`${deps.apiUrl}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
  };
  const register = async (id: string, branchId: string) => {
    const res = await api('/api/agents', deps.adminToken, { id, branchId, name: id });
    if (res.status !== 201) throw new Error(`could not register demo agent ${id}: ${JSON.stringify(res.body)}`);
    return String(res.body.token);
  };
  const agents = { refunds: await register('refund-assistant', 'lisboa'), promos: await register('promo-planner', 'porto'), sync: await register('inventory-sync', 'lisboa') };

  // Customers ask questions; now and then one asks for a person.
  every(3500, async () => {
    const who = pick(DEMO_PEOPLE.customers);
    const token = Math.random() < 0.7 ? DEMO_TOKENS.lisboa : DEMO_TOKENS.porto;
    const client = deps.telegram.getClient(token, { userId: who.id, chatId: who.id, firstName: who.name });
    // The 3rd message, then every 9th, asks for a person (Lisboa and Porto in turn; each branch's staff group answers).
    const handoff = stats.customerMessages % 9 === 2;
    const text = handoff ? 'Quero falar com um atendente, por favor' : pick(QUESTIONS);
    const bot = handoff ? (Math.floor(stats.customerMessages / 9) % 2 === 0 ? DEMO_TOKENS.lisboa : DEMO_TOKENS.porto) : token;
    const asker = bot === token ? client : deps.telegram.getClient(bot, { userId: who.id, chatId: who.id, firstName: who.name });
    stats.customerMessages++;
    await asker.sendMessage(asker.makeMessage(text));
  });

  // Action agents ask for approvals; message.send replies to a customer who wrote in.
  let n = 0;
  every(7000, async () => {
    n++;
    const lisboa = Math.random() < 0.7;
    const action = pick(ACTIONS);
    const body: Record<string, unknown> = { branchId: lisboa ? 'lisboa' : 'porto', actionType: action.actionType, summary: action.summary(n), ...(action.riskLevel ? { riskLevel: action.riskLevel } : {}) };
    if (lisboa && n % 5 === 0) {
      const contacts = await api('/api/contacts?branchId=lisboa&limit=5', deps.adminToken);
      const contact = (contacts.body.contacts as Array<{ id: string; name?: string }> | undefined)?.[0];
      if (contact) Object.assign(body, { actionType: 'message.send', summary: `Tell ${contact.name ?? 'the customer'} their order is ready`, details: { contactId: contact.id, text: 'Your currency order is ready for pick-up. See you soon!' } });
    }
    const res = await api('/api/approvals', lisboa ? agents.refunds : agents.promos, body);
    if (res.status === 201) stats.approvalsRequested++;
  });

  // Every agent sends heartbeats (so the ones asking for approvals show up); inventory-sync holds its own now and
  // then: watch it go down and come back.
  const started = Date.now();
  const beat = async (id: string, token: string) => {
    await api(`/api/agents/${id}/heartbeat`, token, {});
    stats.heartbeats++;
  };
  await Promise.all([beat('refund-assistant', agents.refunds), beat('promo-planner', agents.promos), beat('inventory-sync', agents.sync)]);
  every(3000, async () => {
    await Promise.all([beat('refund-assistant', agents.refunds), beat('promo-planner', agents.promos)]);
    if (!heartbeatPaused((Date.now() - started) / pace)) await beat('inventory-sync', agents.sync);
  });

  // Managers press the real inline buttons a few seconds after a prompt arrives; some prompts are left for the dashboard.
  const seen = new Set<string>();
  const managers = [
    { person: DEMO_PEOPLE.ana, token: DEMO_TOKENS.lisboa },
    { person: DEMO_PEOPLE.bruno, token: DEMO_TOKENS.porto },
  ];
  every(1500, () => {
    for (const update of deps.telegram.storage.botMessages as StoredBotUpdate[]) {
      const key = `${update.botToken}:${update.messageId}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const message = update.message as { chat_id: number | string; text?: string; reply_markup?: { inline_keyboard?: Array<Array<{ callback_data?: string }>> } };
      const buttons = message.reply_markup?.inline_keyboard?.[0];
      const manager = managers.find((m) => m.token === update.botToken && String(message.chat_id) === String(m.person.id));
      if (manager && buttons?.length === 2) {
        const roll = Math.random();
        if (roll > 0.8) continue; // left pending: approve it yourself on the dashboard
        later(3000 + Math.random() * 6000, async () => {
          const client = deps.telegram.getClient(manager.token, { userId: manager.person.id, chatId: manager.person.id, firstName: manager.person.name });
          await client.sendCallback(client.makeCallbackQuery(buttons[roll < 0.65 ? 0 : 1]!.callback_data!, { message: { message_id: update.messageId } }));
          stats.decidedInTelegram++;
        });
      }
      // Staff answer a hand-off in their branch's staff group, then give the customer back to the bot.
      const group = STAFF_GROUPS.find((g) => g.token === update.botToken && String(message.chat_id) === String(g.chat));
      if (group && message.text?.includes('needs a person')) {
        const staff = deps.telegram.getClient(group.token, { userId: group.person.id, chatId: group.chat, firstName: group.person.name, type: 'group', chatTitle: group.title });
        const replyTo = { reply_to_message: { message_id: update.messageId, from: { id: EMULATOR_BOT_ID, is_bot: true, first_name: 'bot' } } } as never;
        later(4000, async () => {
          await staff.sendMessage(staff.makeMessage(`Olá! Sou ${group.person.name === 'Ana' ? 'a' : 'o'} ${group.person.name}, da loja. Em que posso ajudar?`, replyTo));
          stats.handoffsAnswered++;
        });
        later(20_000, () => staff.sendMessage(staff.makeMessage('resolve', replyTo)));
      }
    }
  });

  return {
    stats,
    stop() {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}
