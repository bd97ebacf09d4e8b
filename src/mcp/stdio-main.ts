#!/usr/bin/env node
/**
 * `npm run --silent mcp`: the coordinator's MCP tools over stdio, for desktop
 * agent apps that start MCP servers as child processes. It is a client of a
 * running coordinator (COORDINATOR_URL, default http://127.0.0.1:3000) acting
 * as one action agent (COORDINATOR_TOKEN). stdout carries the protocol and
 * nothing else; logs go to stderr.
 */
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import winston from 'winston';
import { createLogger } from '../config/logger.js';
import { CoordinatorClient } from './coordinator-client.js';
import { createMcpServer } from './mcp-server.js';
import { readMcpEnv, type McpEnv } from './stdio-env.js';

let env: McpEnv;
try {
  env = readMcpEnv(process.env);
} catch (error) {
  process.stderr.write(`Cannot start the coordinator MCP server.\n${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}

// Every level to stderr: stdout belongs to the protocol.
const log = createLogger({
  level: env.LOG_LEVEL,
  console: false,
  transports: [
    new winston.transports.Console({
      stderrLevels: Object.keys(winston.config.npm.levels),
      format: winston.format.printf((info) => {
        const { level, message, timestamp, module: _module, ...meta } = info as Record<string, unknown>;
        const extra = Object.keys(meta).length > 0 ? ` ${JSON.stringify(meta)}` : '';
        return `${String(timestamp)} [coordinator-mcp] ${String(level)} ${String(message)}${extra}`;
      }),
    }),
  ],
}).child({ module: 'mcp' });

const client = new CoordinatorClient({ baseUrl: env.COORDINATOR_URL, token: env.COORDINATOR_TOKEN });
const server = createMcpServer({ client, log, defaultWaitSec: env.COORDINATOR_WAIT_SEC });

let closing = false;
const close = async (why: string) => {
  if (closing) return;
  closing = true;
  log.info(`stopping (${why})`);
  await server.close().catch((error: unknown) => log.warn('closing the MCP server failed', { error }));
  process.exit(0);
};
// The client closing our stdin is the end of the session.
process.stdin.on('end', () => void close('stdin closed'));
process.on('SIGTERM', () => void close('SIGTERM'));
process.on('SIGINT', () => void close('SIGINT'));

await server.connect(new StdioServerTransport());
log.info(`MCP server on stdio for the coordinator at ${env.COORDINATOR_URL}`);
// A first look, for the log only: a coordinator that is down now may be up by the first tool call.
client.status().then(
  (status) => log.info(`the coordinator answers: ${status.business}, branches ${status.branches.map((b) => b.id).join(', ') || 'none'} visible to this token`),
  (error: unknown) => log.warn(`the coordinator at ${env.COORDINATOR_URL} did not answer as expected yet: ${error instanceof Error ? error.message : String(error)}`),
);
