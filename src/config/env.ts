import proxyaddr from 'proxy-addr';
import { z } from 'zod';
import type { ChannelRegistry } from '../bots/channel-registry.js';
import { BUILTIN_CHANNELS } from '../bots/channels.js';
import { ConfigError } from '../core/errors.js';
import { zodIssues } from './zod-issues.js';

export const LOG_LEVELS = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

const port = (fallback: number) =>
  z.coerce
    .number({ message: 'expected a port number (1-65535)' })
    .int('expected a whole port number')
    .min(0, 'expected a port number (0-65535, 0 picks a free port)')
    .max(65535, 'expected a port number (0-65535)')
    .default(fallback);

/**
 * The environment the coordinator reads, validated at start-up. Defaults here are
 * the embedded default: file storage in ./data, logs in ./logs, loopback only.
 */
export const envSchema = z.object({
  PORT: port(3000),
  DASHBOARD_PORT: port(3001),
  HOST: z.string().trim().min(1, 'expected a host name or address to listen on').default('127.0.0.1'),
  DATA_DIR: z.string().trim().min(1).default('./data'),
  MONGODB_URI: z
    .string()
    .trim()
    .optional()
    .transform((v) => (v ? v : undefined))
    .refine((v) => v === undefined || /^mongodb(\+srv)?:\/\//.test(v), {
      message: 'expected a MongoDB connection string starting with mongodb:// or mongodb+srv://',
    }),
  LOG_DIR: z.string().trim().min(1).default('./logs'),
  LOG_LEVEL: z.enum(LOG_LEVELS, { message: `expected one of ${LOG_LEVELS.join(', ')}` }).default('info'),
  COORDINATOR_CONFIG: z.string().trim().min(1).default('./coordinator.yaml'),
  ADMIN_TOKEN: z
    .string()
    .optional()
    .transform((v) => (v ? v : undefined))
    .refine((v) => v === undefined || v.length >= 16, { message: 'expected at least 16 characters (use a long random value)' }),
  HEALTH_INTERVAL_MS: z.coerce
    .number({ message: 'expected a number of milliseconds' })
    .int()
    .min(1000, 'expected at least 1000 ms')
    .max(3_600_000, 'expected at most 3600000 ms (one hour)')
    .default(30_000),
  /** Retry a failed probe this often before the agent goes down (default: min(10 s, HEALTH_INTERVAL_MS)). */
  HEALTH_RETRY_INTERVAL_MS: z.coerce
    .number({ message: 'expected a number of milliseconds' })
    .int('expected a whole number of milliseconds')
    .min(100, 'expected at least 100 ms')
    .max(3_600_000, 'expected at most 3600000 ms (one hour)')
    .optional(),
  /** Failed retries before an agent goes down (default 2; 0 = down at the first failure). */
  HEALTH_RETRIES: z.coerce.number({ message: 'expected a number of retries' }).int('expected a whole number').min(0, 'expected 0 or more').max(20, 'expected at most 20').default(2),
  /**
   * Which peers' X-Forwarded-For / -Proto / -Host are believed (Express "trust proxy"):
   * empty (default) = none; a number of hops; or addresses, CIDR ranges and the names
   * loopback, linklocal, uniquelocal, comma-separated.
   */
  TRUST_PROXY: z
    .string()
    .trim()
    .optional()
    .transform((v, ctx): false | number | string[] => {
      if (!v || v === 'false') return false;
      // A number of hops; more than 32 proxies in a row is not a deployment but a way to trust everyone.
      if (/^\d+$/.test(v)) {
        if (Number(v) <= 32) return Number(v);
        ctx.addIssue({ code: 'custom', message: 'expected at most 32 proxy hops' });
        return z.NEVER;
      }
      const list = v.split(',').map((x) => x.trim()).filter(Boolean);
      const bad = list.filter((x) => {
        try {
          proxyaddr.compile(x);
          return false;
        } catch {
          return true;
        }
      });
      if (v === 'true' || bad.length > 0) {
        ctx.addIssue({ code: 'custom', message: `expected a number of proxy hops, or addresses / CIDR ranges / loopback, linklocal, uniquelocal (comma-separated)${bad.length ? `; not understood: ${bad.join(', ')}` : ''}; "true" (trust everyone) is refused` });
        return z.NEVER;
      }
      return list;
    }),
  /**
   * Networks that outbound webhooks may reach although they are loopback, private or
   * link-local (agents on a LAN): comma-separated addresses or CIDR ranges, e.g. 10.1.0.0/16.
   */
  WEBHOOK_ALLOWLIST: z
    .string()
    .trim()
    .optional()
    .transform((v) => (v ? v.split(',').map((x) => x.trim()).filter(Boolean) : [])),
  /** Start although DATA_DIR or its files can be read by other users of this machine (not recommended). */
  ALLOW_INSECURE_DATA_DIR: z
    .string()
    .trim()
    .optional()
    .transform((v) => (v ? v.toLowerCase() : ''))
    .refine((v) => ['', 'true', 'false', '1', '0', 'yes', 'no'].includes(v), { message: 'expected true or false' })
    .transform((v) => v === 'true' || v === '1' || v === 'yes'),
  /** Key of the audit log's HMAC chain (32+ characters); default: generated once into DATA_DIR/audit-key. Replicas sharing a database must share it. */
  AUDIT_KEY: z
    .string()
    .optional()
    .transform((v) => (v ? v : undefined))
    .refine((v) => v === undefined || v.length >= 32, { message: 'expected at least 32 characters (use a long random value)' }),
  /** Socket.IO connections accepted per port in total, and per client address. */
  SOCKET_MAX_CONNECTIONS: z.coerce.number({ message: 'expected a number of connections' }).int().min(1).max(1_000_000).default(2000),
  SOCKET_MAX_PER_ADDRESS: z.coerce.number({ message: 'expected a number of connections' }).int().min(1).max(100_000).default(50),
  /** HTTP connections held per port in total, and per client address (proxies in TRUST_PROXY are exempt). */
  HTTP_MAX_CONNECTIONS: z.coerce.number({ message: 'expected a number of connections' }).int().min(1).max(1_000_000).default(10_000),
  HTTP_MAX_PER_ADDRESS: z.coerce.number({ message: 'expected a number of connections' }).int().min(1).max(1_000_000).default(256),
  RATE_LIMIT_PER_MIN: z.coerce.number({ message: 'expected requests per minute per client' }).int('expected a whole number').min(1, 'expected at least 1').default(1200),
  BODY_LIMIT: z
    .string()
    .regex(/^\d+(b|kb|mb)$/i, 'expected a size such as 256kb or 1mb')
    .default('1mb'),
  MONGODB_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(2000),
  LOG_RETENTION_DAYS: z.coerce.number().int().min(1).max(3650).default(14),
});

/** The core's variables, typed; besides them, each channel's own (`ChannelFactory.env`), validated by the channel's schema. */
export type Env = z.infer<typeof envSchema> & { readonly [channelVariable: string]: unknown };

/**
 * The configuration as a pure function of the environment (Probot's
 * `readEnvOptions`). Throws a ConfigError with one line per bad variable.
 *
 * @example readEnv({ PORT: '8080' }).PORT === 8080
 */
export function readEnv(env: NodeJS.ProcessEnv | Record<string, string | undefined>, channels: ChannelRegistry = BUILTIN_CHANNELS): Env {
  const schema = envSchema.extend(Object.assign({}, ...channels.list().map((f) => f.env ?? {})) as z.ZodRawShape);
  const picked: Record<string, string | undefined> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    picked[key] = value === '' && key !== 'MONGODB_URI' && key !== 'ADMIN_TOKEN' && key !== 'AUDIT_KEY' ? undefined : value;
  }
  const parsed = schema.safeParse(picked);
  if (!parsed.success) {
    throw new ConfigError(zodIssues(parsed.error).map((i) => ({ path: `env ${i.path}`, message: i.message })));
  }
  return parsed.data as Env;
}
