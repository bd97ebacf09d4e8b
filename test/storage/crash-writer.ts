/**
 * Child process for the crash tests: writes documents as fast as it can and
 * prints "ack <id>" only after each write has resolved. The parent kills it
 * with SIGKILL mid-stream. `batch` issues 400 writes at once per round, so
 * the kill lands during large group commits.
 */
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js';

const store = SqliteStore.open({ dataDir: process.argv[2] });
const batch = process.argv[3] === 'batch';
process.stdout.write('ready\n');
const write = async (i: number) => {
  const id = `m${String(i).padStart(7, '0')}`;
  await store.messages.insert({ id, contactId: 'c1', branchId: 'lisboa', channel: 'telegram', direction: 'in', text: `message ${i}`, at: new Date().toISOString() });
  process.stdout.write(`ack ${id}\n`);
};
for (let i = 0; ; ) {
  if (!batch) {
    await write(i++);
    continue;
  }
  const round = Array.from({ length: 400 }, () => write(i++));
  await Promise.all(round);
}
