import { afterEach, describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { closeLogger, createLogger } from '../../src/config/logger.js';
import { redact } from '../../src/config/redact.js';
import { MemoryTransport, memoryLogger } from '../helpers/quiet-logger.js';
import { tempDir } from '../helpers/temp-dir.js';

const dirs: Array<() => void> = [];
afterEach(() => dirs.splice(0).forEach((c) => c()));

const TELEGRAM_TOKEN = '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1';
const SLACK_TOKEN = 'xoxb-1234-5678-abcdefghijklmnop';

describe('logging', () => {
  it('writes JSON lines to LOG_DIR/coordinator-<date>.log with secrets and phone numbers redacted', async () => {
    const dir = tempDir();
    dirs.push(dir.cleanup);
    const logger = createLogger({ level: 'info', dir: dir.path, console: false });
    const child = logger.child({ module: 'telegram', agentId: 'lisboa-telegram' });
    child.info(`calling https://api.telegram.org/bot${TELEGRAM_TOKEN}/getMe for +351 912 345 678`, {
      token: TELEGRAM_TOKEN,
      headers: { authorization: 'Bearer adm_abcdefghijklmnopqrstuvwxyz' },
      config: { botToken: SLACK_TOKEN, signingSecret: 's3cr3t', note: `uses ${SLACK_TOKEN}` },
      jid: '351912345678@s.whatsapp.net',
      phone: '+351912345678',
      from: 'lisboa',
      uri: 'mongodb://admin:hunter2@db:27017/coordinator',
    });
    child.debug('not written at info level');
    await closeLogger(logger);

    const files = readdirSync(dir.path).filter((f) => f.endsWith('.log'));
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^coordinator-\d{4}-\d{2}-\d{2}\.log$/);
    const text = readFileSync(join(dir.path, files[0]), 'utf8');
    const lines = text.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(1);
    const [entry] = lines;
    expect(entry).toMatchObject({ level: 'info', module: 'telegram', agentId: 'lisboa-telegram', token: '[redacted]', from: 'lisboa' });
    expect(entry.timestamp).toBeDefined();
    for (const secret of [TELEGRAM_TOKEN, SLACK_TOKEN, 's3cr3t', 'adm_abcdefghijklmnopqrstuvwxyz', 'hunter2', '912345678', '912 345 678']) {
      expect(text).not.toContain(secret);
    }
    expect(entry.phone).toBe('+***678');
    expect(entry.message).toContain('+***678');
  });

  it('a line logged after the logger closed (a late callback at shutdown) is dropped, not an unhandled error; closing twice is one close', async () => {
    const dir = tempDir();
    dirs.push(dir.cleanup);
    const logger = createLogger({ level: 'info', dir: dir.path, console: false });
    logger.info('before close');
    await closeLogger(logger);
    // A second close (a fail-stop exit racing a graceful stop) is the same close, not a wait for a 'finish' that already came.
    await closeLogger(logger);
    const escaped: unknown[] = [];
    const onEscape = (error: unknown) => escaped.push(error);
    process.on('uncaughtException', onEscape);
    try {
      logger.child({ module: 'conversations' }).error('inbound message failed');
      logger.warn('late');
      await new Promise((r) => setTimeout(r, 20));
    } finally {
      process.off('uncaughtException', onEscape);
    }
    expect(escaped).toEqual([]);
    const files = readdirSync(dir.path).filter((f) => f.endsWith('.log'));
    expect(readFileSync(join(dir.path, files[0]!), 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('drops lines below its level before formatting them, and follows a level changed at runtime', () => {
    const { logger, entries } = memoryLogger('info');
    logger.debug('not at info');
    logger.http('GET /health 200');
    logger.info('at info');
    logger.level = 'debug'; // as PATCH /config does
    logger.debug('now at debug');
    expect(entries.map((e) => e.message)).toEqual(['at info', 'now at debug']);
  });

  it('a transport with a more verbose level of its own still gets the lines below the logger level', () => {
    const verbose = new MemoryTransport({ level: 'debug' });
    const logger = createLogger({ level: 'info', console: false, transports: [verbose] });
    logger.debug('for the verbose transport');
    expect(verbose.entries.map((e) => e.message)).toEqual(['for the verbose transport']);
  });

  it('redact() masks secret keys deeply without touching the input', () => {
    const input = { branches: [{ agents: [{ id: 'a', token: 'tok', webhookSecret: '', appToken: undefined }] }] };
    const out = redact(input);
    expect(out.branches[0].agents[0]).toEqual({ id: 'a', token: '[redacted]', webhookSecret: '', appToken: undefined });
    expect(input.branches[0].agents[0].token).toBe('tok');
  });
});
