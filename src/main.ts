#!/usr/bin/env node
/**
 * `npm start`: reads `.env` when present, validates the environment and the
 * config file, opens the store, serves the API and the dashboard, and stops
 * gracefully on SIGTERM/SIGINT.
 */
import { config as loadDotenv } from 'dotenv';
import { relative } from 'node:path';
import { boot, type Running } from './boot.js';
import { closeLogger, type Logger } from './config/logger.js';
import { CodedError } from './core/errors.js';
import { guardProcess } from './core/process-guard.js';

loadDotenv({ quiet: true });

function banner(running: Running): string {
  const { coordinator, env, store, api, dashboard } = running;
  const token = coordinator.adminToken;
  const tokenLine =
    token.source === 'env'
      ? 'Admin token: from ADMIN_TOKEN'
      : token.source === 'generated'
        ? `Admin token (shown once): ${token.token}\n  also saved in ${relative(process.cwd(), token.file!) || token.file} — move it somewhere safe, or set ADMIN_TOKEN`
        : `Admin token: in ${token.file ? relative(process.cwd(), token.file) : 'the place you saved it'} (or set ADMIN_TOKEN)`;
  const state = store.state();
  const branches = coordinator.settings.config.branches;
  const lines = [
    `Coordinator running`,
    `  API:        ${api.url}  (try: curl ${api.url}/health)`,
    `  Dashboard:  ${dashboard.url}`,
    `  Storage:    ${state.detail}${state.fallback ? '  [FALLBACK]' : ''}`,
    `  Logs:       ${env.LOG_DIR}/coordinator-YYYY-MM-DD.log`,
    `  ${tokenLine}`,
    branches.length === 0
      ? `  Branches:   none yet — copy coordinator.example.yaml to ${env.COORDINATOR_CONFIG} (or run: npm run setup)`
      : `  Branches:`,
    ...branches.map((b) => {
      const ready = b.agents.filter((a) => !a.missingCredentials?.length && a.enabled).map((a) => a.id);
      const lacking = b.agents.filter((a) => a.missingCredentials?.length).map((a) => `${a.id} (needs ${a.missingCredentials!.join(', ')})`);
      return `    - ${b.id} "${b.name}": ${b.managers.length} manager(s); agents ready: ${ready.join(', ') || 'none'}${lacking.length ? `; lacking credentials: ${lacking.join(', ')}` : ''}`;
    }),
  ];
  return lines.join('\n');
}

/**
 * Fail-stop: after a failed fsync or COMMIT nothing the process holds in memory can be trusted to be on
 * disk, so it exits (code 1) instead of serving on; a process manager restarts it, and the
 * restart reads what is really on disk. The log gets up to 2 s to reach its file.
 */
function exitOnStoreFailure(error: CodedError): void {
  console.error(`Stopping: ${error.message}`);
  // A SIGTERM meanwhile stops gracefully, but still reports the failure.
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 2000).unref();
  if (!runningLogger) process.exit(1);
  void closeLogger(runningLogger).finally(() => process.exit(1));
}

/** The coordinator's logger once it runs (flushed before a fail-stop exit). */
let runningLogger: Logger | undefined;

async function main(): Promise<void> {
  let running: Running;
  try {
    running = await boot({ environment: process.env, console: true, onStoreFailed: exitOnStoreFailure });
  } catch (error) {
    if (error instanceof CodedError) {
      console.error(`Cannot start the coordinator.\n${error.message}`);
    } else if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      const e = error as NodeJS.ErrnoException & { port?: number };
      console.error(`Cannot start the coordinator: port ${e.port ?? ''} is already in use. Set PORT / DASHBOARD_PORT to free ports.`);
    } else {
      console.error('Cannot start the coordinator:', error);
    }
    process.exit(1);
  }
  runningLogger = running.logger;
  guardProcess(running.logger);
  console.log(banner(running));
  running.logger.info('coordinator started', { module: 'main', api: running.api.url, dashboard: running.dashboard.url, storage: running.store.state().backend });
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      console.error(`${signal} again: exiting now`);
      process.exit(1);
    }
    stopping = true;
    running.logger.info(`${signal}: shutting down (finishing in-flight requests)`, { module: 'main' });
    try {
      await running.stop();
      process.exit(process.exitCode ?? 0);
    } catch (error) {
      console.error('Shutdown failed:', error);
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

void main();
