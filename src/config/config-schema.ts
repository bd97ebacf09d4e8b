import { z } from 'zod';
import { responderSchema } from './responder-schema.js';

/** Ids are used in URLs, Telegram callback data and log lines: keep them short and plain. */
export const idSchema = z
  .string({ message: 'expected an id' })
  .regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'expected 1-40 characters: lowercase letters, digits, "-" or "_", starting with a letter or digit');

/**
 * Ids the coordinator itself writes as an actor or decider (`decision.by`,
 * audit `actor`, token subjects). An agent, manager or token named like one of
 * them would be indistinguishable from the coordinator in the audit trail (a
 * manager called `policy` would look like an auto-approval), so none may take one.
 */
export const RESERVED_IDS: readonly string[] = [
  'admin', 'administrator', 'root', 'coordinator', 'system', 'policy', 'timer', 'api', 'dashboard', 'config',
  'webhook', 'webhooks', 'mcp', 'health', 'metrics', 'audit', 'operator', 'manager', 'owner', 'agent', 'agents',
  'runner', 'runners', 'bot', 'action', 'unknown', 'anonymous', 'nobody', 'self', 'me', 'all', 'any', 'none', 'null', 'undefined',
];

/** An id that names someone who acts (agents, managers): an id, and not a reserved one. */
export const actorIdSchema = idSchema.refine((id) => !RESERVED_IDS.includes(id), {
  message: `this id is reserved for the coordinator itself (reserved: ${RESERVED_IDS.join(', ')})`,
});

export const CHANNELS = ['telegram', 'slack', 'whatsapp'] as const;
export type Channel = (typeof CHANNELS)[number];
export const AUTONOMY_LEVELS = ['supervised', 'semi_autonomous', 'autonomous'] as const;
export type Autonomy = (typeof AUTONOMY_LEVELS)[number];
export const MANAGER_ROLES = ['operator', 'manager', 'owner'] as const;

/** Fields holding secrets: redacted from `GET /config` and logs, and "missing credentials" when unset. */
export const CREDENTIAL_FIELDS = ['token', 'botToken', 'signingSecret', 'appToken', 'webhookSecret'] as const;

const timeZone = z.string().refine(
  (tz) => {
    try {
      new Intl.DateTimeFormat('en', { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  },
  { message: 'expected an IANA time zone such as Europe/Lisbon or America/Sao_Paulo' },
);

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const hoursRange = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$/, 'expected "HH:MM-HH:MM", e.g. "09:00-18:00"')
  .refine((r) => r.slice(0, 5) < r.slice(6), { message: 'the opening time must be before the closing time' });
export const businessHoursSchema = z
  .partialRecord(z.enum(DAYS, { message: `expected a day: ${DAYS.join(', ')}` }), z.union([hoursRange, z.array(hoursRange)]))
  .optional();

const phone = z.string().regex(/^\+?[1-9]\d{6,14}$/, 'expected an international phone number such as +351912345678');

export const managerSchema = z.strictObject({
  id: actorIdSchema,
  name: z.string().min(1),
  role: z.enum(MANAGER_ROLES, { message: `expected one of ${MANAGER_ROLES.join(', ')}` }).default('manager'),
  slack: z.string().regex(/^[UW][A-Z0-9]{2,}$/, 'expected a Slack member id such as U012ABCDEF').optional(),
  telegram: z
    .union([z.number().int().positive(), z.string().regex(/^\d+$/)], { message: 'expected a numeric Telegram user id' })
    .transform(String)
    .optional(),
  whatsapp: phone.optional(),
  /** Channel order for approval prompts; defaults to slack, telegram, whatsapp (those the manager has). */
  prefer: z.array(z.enum(CHANNELS)).optional(),
});

const agentBase = {
  id: actorIdSchema,
  dependsOn: z.array(idSchema).default([]),
  enabled: z.boolean().default(true),
};
const credential = z.string().default('');

export const agentConfigSchema = z.discriminatedUnion(
  'channel',
  [
    z.strictObject({
      ...agentBase,
      channel: z.literal('telegram'),
      token: credential,
      /** Public HTTPS base URL; when set the bot uses a webhook instead of long polling. */
      webhookUrl: z.url().optional(),
      webhookSecret: credential,
      /** Minimum ms between two getUpdates calls (default 250). */
      pollMinIntervalMs: z.number().int().min(0).max(60_000).optional(),
    }),
    z.strictObject({
      ...agentBase,
      channel: z.literal('slack'),
      botToken: credential,
      signingSecret: credential,
      appToken: z.string().optional(),
      approvalsChannel: z.string().optional(),
      staffChannel: z.string().optional(),
    }),
    z.strictObject({
      ...agentBase,
      channel: z.literal('whatsapp'),
      /** The branch's number: with it the agent also asks for a pairing code (besides the QR). */
      phone: phone.optional(),
      /** Answer group chats too (default: one-to-one chats only). */
      groups: z.boolean().default(false),
      /** Outbound governor: minimum ms between two sends (default 1500) ... */
      minGapMs: z.number({ message: 'expected milliseconds between two sends, e.g. 1500' }).int().min(200, 'expected at least 200 ms: faster sending gets numbers banned').max(600_000).default(1500),
      /** ... plus up to this much random ms (default 1000) ... */
      jitterMs: z.number({ message: 'expected milliseconds of random extra gap, e.g. 1000' }).int().min(0).max(600_000).default(1000),
      /** ... and at most this many messages in any 24 hours (default 1000). */
      dailyCap: z.number({ message: 'expected a number of messages per 24 hours, e.g. 1000' }).int().min(1).max(100_000).default(1000),
      /** Another WhatsApp WebSocket endpoint (self-hosted proxies, tests); default: WhatsApp's own. */
      waWebSocketUrl: z.string().regex(/^wss?:\/\/\S+$/, 'expected a ws:// or wss:// URL').optional(),
      /** Reconnect backoff: first delay and cap in ms (defaults 1000 and 60000). */
      reconnectBaseMs: z.number().int().min(10).max(600_000).default(1000),
      reconnectMaxMs: z.number().int().min(10).max(3_600_000).default(60_000),
      /** The health probe fails when an open socket received nothing for this long (default 90000 ms; WhatsApp pings every 30 s). */
      activityWindowMs: z.number().int().min(1000).max(3_600_000).default(90_000),
      /** How long send() waits for the queue before answering with the still-queued message's ref (default 60000 ms). */
      sendWaitMs: z.number().int().min(100).max(600_000).optional(),
    }),
  ],
  { message: `expected channel to be one of ${CHANNELS.join(', ')}` },
);

export const branchSchema = z.strictObject({
  id: idSchema,
  name: z.string().min(1),
  timezone: timeZone.default('UTC'),
  businessHours: businessHoursSchema,
  address: z.string().optional(),
  autonomy: z.enum(AUTONOMY_LEVELS, { message: `expected one of ${AUTONOMY_LEVELS.join(', ')}` }).optional(),
  /** `remote`: this branch's bots run in a runner process (`npm run runner -- --branch <id>`), not in the coordinator. */
  host: z.enum(['local', 'remote'], { message: 'expected "local" (bots run in the coordinator) or "remote" (in a runner)' }).default('local'),
  managers: z.array(managerSchema).default([]),
  agents: z.array(agentConfigSchema).default([]),
  /** How the bot answers customers (opt-out, hours, FAQ, hand-off); defaults apply when absent. */
  responder: responderSchema.prefault({}),
});

export const RISK_LEVELS = ['low', 'medium', 'high', 'critical'] as const;
const perRisk = <T extends z.ZodType>(value: T) => z.partialRecord(z.enum(RISK_LEVELS, { message: `expected a risk level: ${RISK_LEVELS.join(', ')}` }), value);

/** Approval policy for the whole business (ARCHITECTURE.md, "Approvals — the rules"). */
export const approvalsConfigSchema = z
  .strictObject({
    /** Action type -> risk, on top of the built-in table (e.g. `crm.update: low`). */
    riskByAction: z.record(z.string().min(1), z.enum(RISK_LEVELS)).default({}),
    /** Lowest manager role allowed to decide each risk (default: manager; e.g. `critical: owner`). */
    minRole: perRisk(z.enum(MANAGER_ROLES)).default({}),
    /** Time to live per risk, seconds (defaults: low 86400, medium 28800, high 14400, critical 3600). */
    ttlSec: perRisk(z.number().int().min(10).max(30 * 86400)).default({}),
    /** Still pending after this many seconds: also deliver to the owners (escalation). */
    escalateAfterSec: perRisk(z.number().int().min(10).max(30 * 86400)).default({}),
    /** Consecutive approvals of one action type at one branch before suggesting auto-approval. */
    learnAfter: z.number().int().min(2).max(1000).default(10),
    /**
     * Autonomy per team. Teams are assigned to agents by the admin — here
     * (`agents: [agent ids]`) or with `PATCH /api/agents/:id {teamId}` — never
     * chosen by a request.
     */
    teams: z
      .record(
        idSchema,
        z.strictObject({
          autonomy: z.enum(AUTONOMY_LEVELS, { message: `expected one of ${AUTONOMY_LEVELS.join(', ')}` }),
          /** The agents (by id) whose requests this team's autonomy governs. */
          agents: z.array(actorIdSchema).max(1000).default([]),
        }),
      )
      .default({}),
  })
  .superRefine((approvals, ctx) => {
    // One agent, one team: two teams naming it would make its autonomy depend on the order of the file.
    const seen = new Map<string, string>();
    for (const [teamId, team] of Object.entries(approvals.teams)) {
      team.agents.forEach((agentId, i) => {
        const other = seen.get(agentId);
        if (other) ctx.addIssue({ code: 'custom', path: ['teams', teamId, 'agents', i], message: `agent '${agentId}' is already in team '${other}'; an agent belongs to one team` });
        else seen.set(agentId, teamId);
      });
    }
  })
  .default({ riskByAction: {}, minRole: {}, ttlSec: {}, escalateAfterSec: {}, learnAfter: 10, teams: {} });

/** `scrypt$N$r$p$salt$hash` (salt and hash base64url), as printed by `npm run hash-password`. */
export const SCRYPT_HASH = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9_-]{16,})\$([A-Za-z0-9_-]{43,})$/;

/** A dashboard login. `manager` links it to a manager id: only then may it decide approvals (as that manager). */
export const operatorSchema = z.strictObject({
  username: z.string().regex(/^[a-z0-9][a-z0-9._@-]{0,63}$/, 'expected a lowercase username (letters, digits, . _ @ -)'),
  name: z.string().min(1).optional(),
  passwordHash: z
    .string()
    .regex(SCRYPT_HASH, 'expected a scrypt hash "scrypt$N$r$p$salt$hash" (make one with: npm run hash-password)')
    .refine((h) => {
      if (!SCRYPT_HASH.test(h)) return true; // the format error above says it
      const [, n, r, p] = h.split('$').map(Number);
      return n >= 1024 && (n & (n - 1)) === 0 && r >= 1 && r <= 64 && p >= 1 && p <= 16;
    }, 'expected N a power of two >= 1024, r 1-64, p 1-16'),
  manager: idSchema.optional(),
});

export const coordinatorConfigSchema = z.strictObject({
  business: z
    .strictObject({
      name: z.string().min(1).default('My business'),
      /** Where health alerts go when a branch has no healthy channel of its own. */
      opsAlerts: z.strictObject({ agent: idSchema, chat: z.string().min(1) }).optional(),
    })
    .default({ name: 'My business' }),
  defaults: z
    .strictObject({
      autonomy: z.enum(AUTONOMY_LEVELS).default('supervised'),
      /** Channel order for a manager without `prefer`: approval prompts try these in turn. */
      channelOrder: z
        .array(z.enum(CHANNELS, { message: `expected a channel: ${CHANNELS.join(', ')}` }))
        .min(1, 'expected at least one channel')
        .refine((list) => new Set(list).size === list.length, { message: 'expected each channel once' })
        .default(['slack', 'telegram', 'whatsapp']),
    })
    .default({ autonomy: 'supervised', channelOrder: ['slack', 'telegram', 'whatsapp'] }),
  approvals: approvalsConfigSchema,
  branches: z.array(branchSchema).default([]),
  /** Dashboard logins (besides the admin token). */
  operators: z.array(operatorSchema).default([]),
});

export type ManagerConfig = z.infer<typeof managerSchema>;
export type OperatorConfig = z.infer<typeof operatorSchema>;
export type AgentConfig = z.infer<typeof agentConfigSchema> & { missingCredentials?: string[] };
export type BranchConfig = Omit<z.infer<typeof branchSchema>, 'agents'> & { agents: AgentConfig[] };
export type CoordinatorConfig = Omit<z.infer<typeof coordinatorConfigSchema>, 'branches'> & { branches: BranchConfig[] };
