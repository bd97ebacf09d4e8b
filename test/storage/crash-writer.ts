/**
 * Child process for the crash test: writes documents as fast as it can and
 * prints "ack <id>" only after each write has resolved. The parent kills it
 * with SIGKILL mid-stream.
 */
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js';

const store = SqliteStore.open({ dataDir: process.argv[2] });
process.stdout.write('ready\n');
for (let i = 0; ; i++) {
  const id = `m${String(i).padStart(7, '0')}`;
  await store.messages.insert({ id, contactId: 'c1', branchId: 'lisboa', channel: 'telegram', direction: 'in', text: `message ${i}`, at: new Date().toISOString() });
  process.stdout.write(`ack ${id}\n`);
}
