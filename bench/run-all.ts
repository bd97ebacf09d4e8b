/** `npm run bench`: every benchmark in bench/, one after the other, each printing its ratios. */
import { cpus } from 'node:os';
import { run as storeWrites } from './store-writes.js';

console.log(`node ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}\n`);
await storeWrites();
