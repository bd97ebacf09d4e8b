#!/usr/bin/env node
/**
 * `npm run runner -- --branch lisboa[,porto]` or `--agents a,b`: hosts those
 * bot agents in this process and connects to the coordinator.
 * Needs COORDINATOR_URL and RUNNER_TOKEN (from `POST /api/runners`), and the
 * same coordinator config file (with the bots' credentials) as COORDINATOR_CONFIG.
 */
import { config as loadDotenv } from 'dotenv';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runRunner } from './branches/run-runner.js';
import { builtinChannels, catalogWith } from './bots/channels.js';
import type { ChannelRegistry } from './bots/channel-registry.js';
import { loadConfigFile } from './config/config-file.js';
import { readEnv } from './config/env.js';
import { guardProcess } from './core/process-guard.js';
import { closeLogger, createLogger } from './config/logger.js';
import { CodedError } from './core/errors.js';

/** The runner CLI; `channels` lets tests stand a fake channel in for the chat SDKs. */
export async function runnerCli(argv: string[], environment: NodeJS.ProcessEnv, channels: ChannelRegistry = builtinChannels()): Promise<void> {
  const usage = 'usage: npm run runner -- --branch <id>[,<id>] | --agents <id>[,<id>] [--name <runner name>]';
  let args;
  try {
    args = parseArgs({ args: argv, options: { branch: { type: 'string' }, agents: { type: 'string' }, name: { type: 'string' } } }).values;
  } catch (error) {
    console.error(`${(error as Error).message}\n${usage}`);
    process.exit(2);
  }
  const url = environment.COORDINATOR_URL;
  const token = environment.RUNNER_TOKEN;
  const problems = [
    !args.branch && !args.agents ? 'say which bots to host: --branch or --agents' : '',
    !url ? 'COORDINATOR_URL is not set (e.g. http://127.0.0.1:3000)' : '',
    !token ? 'RUNNER_TOKEN is not set (create one with POST /api/runners)' : '',
  ].filter(Boolean);
  if (problems.length > 0) {
    console.error(`Cannot start the runner:\n${problems.map((p) => `  - ${p}`).join('\n')}\n${usage}`);
    process.exit(2);
  }
  let env;
  let config;
  try {
    env = readEnv(environment, catalogWith(channels));
    config = loadConfigFile(resolve(env.COORDINATOR_CONFIG), environment, catalogWith(channels)).config;
  } catch (error) {
    console.error(`Cannot start the runner.\n${error instanceof CodedError ? error.message : String(error)}`);
    process.exit(1);
  }
  const logger = createLogger({ level: env.LOG_LEVEL, console: true });
  const split = (v?: string) => v?.split(',').map((s) => s.trim()).filter(Boolean);
  const name = args.name ?? `runner-${(args.branch ?? args.agents ?? '').replace(/,/g, '-')}`;
  let runner;
  try {
    runner = await runRunner({ name, coordinatorUrl: url!, token: token!, config, branches: split(args.branch), agents: split(args.agents), channels, logger, env });
  } catch (error) {
    console.error(`Cannot start the runner: ${(error as Error).message}`);
    process.exit(1);
  }
  guardProcess(logger);
  const stop = async (code: number) => {
    await runner.stop();
    await closeLogger(logger);
    process.exit(code);
  };
  void runner.refused.then(() => stop(1));
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGINT', () => void stop(0));
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('runner-main.ts') || process.argv[1]?.endsWith('runner-main.js')) {
  loadDotenv({ quiet: true });
  void runnerCli(process.argv.slice(2), process.env);
}
