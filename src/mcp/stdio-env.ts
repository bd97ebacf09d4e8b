import { z } from 'zod';
import { ConfigError } from '../core/errors.js';
import { MAX_WAIT_SEC } from './tool-schemas.js';

const schema = z.object({
  COORDINATOR_URL: z
    .url({ protocol: /^https?$/, message: 'expected the http(s) URL of the coordinator API, e.g. http://127.0.0.1:3000' })
    .default('http://127.0.0.1:3000'),
  COORDINATOR_TOKEN: z
    .string({ message: 'is not set: give this MCP server the bearer token of an action agent (POST /api/agents answers it; see examples/mcp-config.md)' })
    .trim()
    .min(1, 'is empty: give this MCP server the bearer token of an action agent (POST /api/agents answers it; see examples/mcp-config.md)'),
  /** Default maxWaitSec of request_approval / send_customer_message: raise it for an MCP client known to allow long tool calls. */
  COORDINATOR_WAIT_SEC: z.coerce.number({ message: `expected seconds (0-${MAX_WAIT_SEC})` }).int(`expected whole seconds (0-${MAX_WAIT_SEC})`).min(0).max(MAX_WAIT_SEC).optional(),
  LOG_LEVEL: z.enum(['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'], { message: 'expected error, warn, info or debug' }).default('info'),
});

export type McpEnv = z.infer<typeof schema>;

/**
 * The stdio MCP server's settings, a pure function of the environment (an
 * empty variable counts as unset). Throws a ConfigError naming each variable
 * at fault and how to fix it.
 */
export function readMcpEnv(environment: Record<string, string | undefined>): McpEnv {
  const parsed = schema.safeParse(Object.fromEntries(Object.entries(environment).filter(([, v]) => v !== undefined && v !== '')));
  if (parsed.success) return parsed.data;
  throw new ConfigError(parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })));
}
