import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import type { BotEvent } from '../../src/bots/bot-agent.js';
import { WhatsAppBot } from '../../src/bots/whatsapp/whatsapp-bot.js';
import { whatsAppStateStore } from '../helpers/whatsapp-state.js';
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js';
import type { Store } from '../../src/storage/store.js';
import { memoryLogger } from '../helpers/quiet-logger.js';
import { tempDir } from '../helpers/temp-dir.js';
import { until } from '../helpers/until.js';

/**
 * The real Baileys socket against a local WebSocket server (via
 * `waWebSocketUrl`) that accepts and then closes every connection: Baileys
 * reports close 428 and the bot reconnects with growing, jittered delays.
 */
describe('WhatsApp reconnect against a real WebSocket server', () => {
  let server: WebSocketServer;
  let dir: ReturnType<typeof tempDir>;
  let store: Store;
  const connections: number[] = [];

  beforeAll(async () => {
    server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    server.on('connection', (ws) => {
      connections.push(Date.now());
      setTimeout(() => ws.close(), 20);
    });
    dir = tempDir('wa-ws-');
    store = SqliteStore.open({ dataDir: dir.path });
  });
  afterAll(async () => {
    // Baileys' send timers (connectTimeoutMs, shortened below) outlive the sockets it closed: let them run out.
    await new Promise((resolve) => setTimeout(resolve, 400));
    for (const client of server.clients) client.terminate();
    await new Promise((resolve) => server.close(resolve));
    await store.close();
    dir.cleanup();
  });

  it('closes produce backoff-spaced reconnects, and the probe follows the connection state', async () => {
    const { logger, entries } = memoryLogger();
    const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const bot = new WhatsAppBot({ id: 'wa-ws', waWebSocketUrl: url, reconnectBaseMs: 150, reconnectMaxMs: 5000 }, { logger, env: {} }, { state: whatsAppStateStore(store, 'wa-ws'), socketOptions: { connectTimeoutMs: 300 } });
    const events: BotEvent[] = [];
    bot.onEvent((e) => events.push(e));
    try {
      await bot.start();
      await until('5 connections', () => connections.length >= 5, 20_000);
      const closes = events.filter((e) => e.type === 'connection' && e.state === 'closed');
      expect(closes.length).toBeGreaterThanOrEqual(4);
      expect(closes[0]).toMatchObject({ agentId: 'wa-ws', detail: 'connection closed (428)' });
      // Gap n ≈ close time (~20 ms after connecting) + 150·2^n ms ± 20 % jitter.
      const gaps = connections.slice(1, 5).map((t, i) => t - connections[i]);
      gaps.forEach((gap, n) => {
        expect(gap).toBeGreaterThanOrEqual(150 * 2 ** n * 0.8);
        expect(gap).toBeLessThan(150 * 2 ** n * 1.2 + 1000);
      });
      // Growing, whatever the machine's load adds to each gap.
      expect(gaps[3] - gaps[0]).toBeGreaterThanOrEqual(500);
      const probe = await bot.probe();
      expect(probe.ok).toBe(false);
      expect(probe.detail).toMatch(/^(disconnected: connection closed \(428\) at .*; reconnecting|connecting)$/);
      expect(entries.some((e) => /^WhatsApp disconnected: connection closed \(428\); reconnecting in \d+ ms$/.test(String(e.message)))).toBe(true);
    } finally {
      await bot.stop();
    }
    // Stopped: no more reconnects. The timer under test is the reconnect the bot had scheduled last: wait
    // until it would have fired (its log line's time plus its delay, up to 5 s here), not a guess shorter than it.
    const stoppedAt = Date.now();
    const count = connections.length;
    const scheduled = () => entries.flatMap((e) => {
      const m = /; reconnecting in (\d+) ms$/.exec(String(e.message));
      return m ? [{ at: Date.parse(String(e.timestamp)), due: Date.parse(String(e.timestamp)) + Number(m[1]) }] : [];
    });
    const due = Math.max(...scheduled().map((s) => s.due));
    expect(due).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now()) + 500));
    expect(scheduled().filter((s) => s.at >= stoppedAt)).toEqual([]);
    expect(connections.length).toBe(count);
    expect(await bot.probe()).toMatchObject({ ok: false, detail: 'not started' });
  });
});
