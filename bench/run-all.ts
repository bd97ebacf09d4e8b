/** `npm run bench`: every benchmark in bench/, one after the other, each printing its ratios. */
import { cpus, platform, totalmem } from 'node:os';
import { run as approvalsCreate } from './approvals-create.js';
import { run as dashboardFanout } from './dashboard-fanout.js';
import { run as healthSweep } from './health-sweep.js';
import { run as idleMemory } from './idle-memory.js';
import { run as inboundMessages } from './inbound-messages.js';
import { run as statusEndpoint } from './status-endpoint.js';
import { run as storeWrites } from './store-writes.js';

// A benchmark left waiting on a promise nothing will settle would let the process exit 0 halfway
// through, printing nothing more: say so and fail instead.
let finished = false;
process.on('exit', (code) => {
  if (!finished && code === 0) {
    console.error('\nbench: a benchmark stopped waiting on something that never happened (see the last heading above)');
    process.exitCode = 1;
  }
});

console.log(`node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${platform()}\n`);
await storeWrites();
console.log();
await healthSweep();
console.log();
await statusEndpoint();
console.log();
await approvalsCreate();
console.log();
await inboundMessages();
console.log();
await dashboardFanout();
console.log();
await idleMemory();
finished = true;
