import { z } from 'zod';

/** Ids are used in URLs, Telegram callback data and log lines: keep them short and plain. */
export const idSchema = z
  .string({ message: 'expected an id' })
  .regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'expected 1-40 characters: lowercase letters, digits, "-" or "_", starting with a letter or digit');

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
  id: idSchema,
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
  id: idSchema,
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
      phone: phone.optional(),
      groups: z.boolean().default(false),
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
    })
    .default({ autonomy: 'supervised' }),
  branches: z.array(branchSchema).default([]),
});

export type ManagerConfig = z.infer<typeof managerSchema>;
export type AgentConfig = z.infer<typeof agentConfigSchema> & { missingCredentials?: string[] };
export type BranchConfig = Omit<z.infer<typeof branchSchema>, 'agents'> & { agents: AgentConfig[] };
export type CoordinatorConfig = Omit<z.infer<typeof coordinatorConfigSchema>, 'branches'> & { branches: BranchConfig[] };
