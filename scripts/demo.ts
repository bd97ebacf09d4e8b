/**
 * `npm run demo`: a self-contained demo on this machine — the coordinator on a
 * temporary data dir, the Telegram Bot API emulator for its bots, and simulated
 * customers, staff, managers and action agents. Open the printed URL and log in.
 * `--seconds N` stops by itself after N seconds (used in CI). Ctrl-C stops it;
 * the temporary data is deleted.
 */
import { startDemo } from './demo/run-demo.js';

const args = process.argv.slice(2);
const secondsAt = args.indexOf('--seconds');
const seconds = secondsAt >= 0 ? Number(args[secondsAt + 1]) : undefined;
if (seconds !== undefined && !(seconds > 0)) {
  console.error('--seconds needs a positive number, e.g. --seconds 60');
  process.exit(2);
}

const port = Number(process.env.PORT ?? 3000);
const dashboardPort = Number(process.env.DASHBOARD_PORT ?? 3001);
let demo: Awaited<ReturnType<typeof startDemo>>;
try {
  demo = await startDemo({ port, dashboardPort, host: process.env.HOST ?? '127.0.0.1' });
} catch (error) {
  const code = (error as { code?: string }).code;
  console.error(code === 'EADDRINUSE' ? `Port ${port} or ${dashboardPort} is taken: set PORT and DASHBOARD_PORT, e.g. PORT=4000 DASHBOARD_PORT=4001 npm run demo` : `Demo failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
console.log(
  [
    '',
    'Chat-ops coordinator — demo (Telegram emulator, simulated customers, managers and agents)',
    '',
    `  Dashboard:  ${demo.dashboardUrl}`,
    `  Log in:     user "${demo.login.username}", password "${demo.login.password}"  (or the admin token below)`,
    `  API:        ${demo.apiUrl}   admin token: ${demo.login.adminToken}`,
    '',
    'Within a minute: customers ask FAQs and get answers, one asks for a person and staff answer,',
    'action agents request approvals that the simulated managers approve or reject from Telegram,',
    'some are left for you to decide on the dashboard, and inventory-sync goes down and comes back.',
    seconds ? `Stopping by itself after ${seconds} s.` : 'Ctrl-C to stop (the temporary data is deleted).',
    '',
  ].join('\n'),
);

let stopping = false;
const stop = async (code: number) => {
  if (stopping) return;
  stopping = true;
  await demo.stop();
  console.log(`demo stopped: ${JSON.stringify(demo.stats)}`);
  process.exit(code);
};
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
if (seconds) setTimeout(() => void stop(0), seconds * 1000);
