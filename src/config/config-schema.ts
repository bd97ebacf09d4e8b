import { z } from 'zod';
import type { ManagerIdentity } from '../bots/channel-factory.js';
import type { ChannelRegistry } from '../bots/channel-registry.js';
import { BUILTIN_CHANNELS } from '../bots/channels.js';
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

export const AUTONOMY_LEVELS = ['supervised', 'semi_autonomous', 'autonomous'] as const;
export type Autonomy = (typeof AUTONOMY_LEVELS)[number];
export const MANAGER_ROLES = ['operator', 'manager', 'owner'] as const;


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

const MANAGER_FIELDS = ['id', 'name', 'role', 'prefer', 'identities'];

/** The channel names of a registry, as a zod enum-like check (`prefer`, `channelOrder`, `channel`). */
function channelName(channels: ChannelRegistry) {
  const names = channels.names();
  return z.string().refine((c) => names.includes(c), { message: `expected a channel: ${names.join(', ')}` });
}

/** One identity per key: channels reaching the same people (both WhatsApp channels) share theirs. */
function identitiesOf(channels: ChannelRegistry): ManagerIdentity[] {
  const byKey = new Map<string, ManagerIdentity>();
  for (const factory of channels.list()) {
    const identity = factory.identity;
    if (!identity || byKey.has(identity.key)) continue;
    if (MANAGER_FIELDS.includes(identity.key)) throw new Error(`channel '${factory.channel}': identity key '${identity.key}' is a manager field`);
    byKey.set(identity.key, identity);
  }
  return [...byKey.values()];
}

/**
 * A manager: who they are, and how they are named on each channel
 * (`identities: {slack: U0…, telegram: 123, whatsapp: +351…}`; the same keys
 * work as shorthands directly on the manager). The parsed manager has them all
 * in `identities`, in canonical form.
 */
export function managerSchemaFor(channels: ChannelRegistry) {
  const identities = identitiesOf(channels);
  const shape = Object.fromEntries(identities.map((i) => [i.key, i.schema.optional()]));
  const keys = identities.map((i) => i.key);
  return z
    .strictObject({
      id: actorIdSchema,
      name: z.string().min(1),
      role: z.enum(MANAGER_ROLES, { message: `expected one of ${MANAGER_ROLES.join(', ')}` }).default('manager'),
      ...shape,
      identities: z.strictObject(shape, { message: `expected identities by channel: ${keys.join(', ')}` }).optional(),
      /** Channel order for approval prompts; defaults to `defaults.channelOrder` (those the manager has). */
      prefer: z.array(channelName(channels)).optional(),
    })
    .superRefine((m, ctx) => {
      const short = m as Record<string, unknown>;
      for (const key of keys) {
        const inMap = (m.identities as Record<string, unknown> | undefined)?.[key];
        if (short[key] !== undefined && inMap !== undefined && short[key] !== inMap) {
          ctx.addIssue({ code: 'custom', path: ['identities', key], message: `'${key}' is given twice with different values (here and as ${key}: on the manager)` });
        }
      }
    })
    .transform((m): ManagerConfig => {
      const short = m as Record<string, unknown>;
      const merged: Record<string, string> = {};
      for (const key of keys) {
        const value = short[key] ?? (m.identities as Record<string, unknown> | undefined)?.[key];
        if (typeof value === 'string') merged[key] = value;
      }
      return { id: m.id, name: m.name, role: m.role, identities: merged, ...(m.prefer ? { prefer: m.prefer } : {}) };
    });
}

const agentBase = {
  id: actorIdSchema,
  dependsOn: z.array(idSchema).default([]),
  enabled: z.boolean().default(true),
};

/** An agent: `channel` picks the channel's own fields (from its factory). */
export function agentConfigSchemaFor(channels: ChannelRegistry) {
  const options = channels.list().map((f) => z.strictObject({ ...agentBase, channel: z.literal(f.channel), ...f.agentFields }));
  if (options.length === 0) return z.never({ message: 'no chat channel is registered in this build' });
  return z.discriminatedUnion('channel', options as unknown as [z.ZodObject, ...z.ZodObject[]], { message: `expected channel to be one of ${channels.names().join(', ')}` });
}

/** Fields holding secrets in any channel's agent config: redacted from `GET /config` and logs. */
export function credentialFields(channels: ChannelRegistry): string[] {
  return [...new Set(channels.list().flatMap((f) => f.credentials.secret))];
}

export const RISK_LEVELS = ['low', 'medium', 'high', 'critical'] as const;
const perRisk = <T extends z.ZodType>(value: T) => z.partialRecord(z.enum(RISK_LEVELS, { message: `expected a risk level: ${RISK_LEVELS.join(', ')}` }), value);

/** Who a step of an escalation chain asks: a role (`manager`, `owner`, `operator`), a manager id (in a branch's own chain), or `ops` (the business's ops chat). */
export const ESCALATION_OPS = 'ops';
const escalationTarget = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, `expected a role (${MANAGER_ROLES.join(', ')}), a manager id or "${ESCALATION_OPS}"`);
const escalationTargets = z.array(escalationTarget).min(1, 'expected at least one role, manager id or "ops"').max(50);

/**
 * One risk's escalation chain: who is asked at once (`ask`; default: everyone
 * who may decide, except the people a later step names), the later steps, each
 * `afterSec` seconds after the request was made, and what a request nobody
 * decided becomes when it times out (`expire`: never approved; `reject`).
 */
export const escalationChainSchema = z
  .strictObject({
    ask: escalationTargets.optional(),
    then: z
      .array(z.strictObject({ afterSec: z.number().int().min(10).max(30 * 86400), to: escalationTargets }))
      .max(10, 'expected at most 10 steps')
      .default([]),
    onTimeout: z.enum(['expire', 'reject'], { message: 'expected "expire" (never approved) or "reject"' }).default('expire'),
  })
  .superRefine((chain, ctx) => {
    chain.then.forEach((step, i) => {
      if (i > 0 && step.afterSec <= chain.then[i - 1].afterSec) {
        ctx.addIssue({ code: 'custom', path: ['then', i, 'afterSec'], message: `expected more than the step before (${chain.then[i - 1].afterSec}): afterSec counts from when the request was made` });
      }
    });
  });
export type EscalationChain = z.infer<typeof escalationChainSchema>;
/** Chains by risk, `default` for the risks without their own. */
const escalationByRisk = z.partialRecord(z.enum([...RISK_LEVELS, 'default'], { message: `expected a risk level (${RISK_LEVELS.join(', ')}) or "default"` }), escalationChainSchema);

export function branchSchemaFor(channels: ChannelRegistry) {
  return z.strictObject({
  id: idSchema,
  name: z.string().min(1),
  timezone: timeZone.default('UTC'),
  businessHours: businessHoursSchema,
  address: z.string().optional(),
  autonomy: z.enum(AUTONOMY_LEVELS, { message: `expected one of ${AUTONOMY_LEVELS.join(', ')}` }).optional(),
  /** `remote`: this branch's bots run in a runner process (`npm run runner -- --branch <id>`), not in the coordinator. */
  host: z.enum(['local', 'remote'], { message: 'expected "local" (bots run in the coordinator) or "remote" (in a runner)' }).default('local'),
  managers: z.array(managerSchemaFor(channels)).default([]),
  agents: z.array(agentConfigSchemaFor(channels)).default([]),
  /** How the bot answers customers (opt-out, hours, FAQ, hand-off); defaults apply when absent. */
  responder: responderSchema.prefault({}),
  /** This branch's escalation chains by risk: each replaces the business's chain for that risk. */
  escalation: escalationByRisk.optional(),
  });
}


/** Approval policy for the whole business (ARCHITECTURE.md, "Approvals — the rules"). */
export const approvalsConfigSchema = z
  .strictObject({
    /** Action type -> risk, on top of the built-in table (e.g. `crm.update: low`). */
    riskByAction: z.record(z.string().min(1), z.enum(RISK_LEVELS)).default({}),
    /** Lowest manager role allowed to decide each risk (default: manager; e.g. `critical: owner`). */
    minRole: perRisk(z.enum(MANAGER_ROLES)).default({}),
    /** Time to live per risk, seconds (defaults: low 86400, medium 28800, high 14400, critical 3600). */
    ttlSec: perRisk(z.number().int().min(10).max(30 * 86400)).default({}),
    /** Shorthand for a chain whose one step asks the owners after this many seconds (`escalation.<risk>.then: [{afterSec, to: [owner]}]`). */
    escalateAfterSec: perRisk(z.number().int().min(10).max(30 * 86400)).default({}),
    /** Escalation chains by risk (and `default`); a branch's own `escalation` wins for its risks. */
    escalation: escalationByRisk.default({}),
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
  .default({ riskByAction: {}, minRole: {}, ttlSec: {}, escalateAfterSec: {}, escalation: {}, learnAfter: 10, teams: {} });

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

/** The whole config file's schema, with each registered channel's agent fields and identities. */
export function configSchemaFor(channels: ChannelRegistry) {
  return z.strictObject({
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
      /** Channel order for a manager without `prefer`: approval prompts try these in turn (default: the registry's order). */
      channelOrder: z
        .array(channelName(channels))
        .min(1, 'expected at least one channel')
        .refine((list) => new Set(list).size === list.length, { message: 'expected each channel once' })
        .default(channels.names()),
    })
    .default({ autonomy: 'supervised', channelOrder: channels.names() }),
  approvals: approvalsConfigSchema,
  branches: z.array(branchSchemaFor(channels)).default([]),
  /** Dashboard logins (besides the admin token). */
  operators: z.array(operatorSchema).default([]),
  });
}

/** The schemas of the channels this build ships (tests and tools that parse config without a registry of their own). */
export const managerSchema: z.ZodType<ManagerConfig> = managerSchemaFor(BUILTIN_CHANNELS);
export const agentConfigSchema = agentConfigSchemaFor(BUILTIN_CHANNELS) as unknown as z.ZodType<AgentConfig>;
export const branchSchema = branchSchemaFor(BUILTIN_CHANNELS) as unknown as z.ZodType<BranchConfig>;
/** Parses without the cross-checks of `parseConfig` (tests, tools); the typed result. */
export const coordinatorConfigSchema = configSchemaFor(BUILTIN_CHANNELS) as unknown as z.ZodType<CoordinatorConfig>;

/** A channel's name (`slack`, `telegram`, …): whatever the registry holds. */
export type Channel = string;

export interface ManagerConfig {
  id: string;
  name: string;
  role: (typeof MANAGER_ROLES)[number];
  /** By identity key (`slack`, `telegram`, `whatsapp`, …), canonical. */
  identities: Record<string, string>;
  prefer?: Channel[];
}
export type OperatorConfig = z.infer<typeof operatorSchema>;
/** An agent's config: the common fields, plus its channel's own (typed inside the channel's folder). */
export interface AgentConfig {
  id: string;
  channel: Channel;
  dependsOn: string[];
  enabled: boolean;
  /** Required credentials that are unset (the agent shows as down, not started). */
  missingCredentials?: string[];
  [field: string]: unknown;
}
type BranchShape = z.infer<ReturnType<typeof branchSchemaFor>>;
export type BranchConfig = Omit<BranchShape, 'agents' | 'managers'> & { agents: AgentConfig[]; managers: ManagerConfig[] };
type ConfigShape = z.infer<ReturnType<typeof configSchemaFor>>;
export type CoordinatorConfig = Omit<ConfigShape, 'branches'> & { branches: BranchConfig[] };
