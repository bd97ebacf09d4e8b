import { createServer } from 'node:net';
import emulator from 'telegram-test-api';
import type { TelegramServer } from 'telegram-test-api/lib/telegramServer.js';

export type { StoredBotUpdate, TelegramServer } from 'telegram-test-api/lib/telegramServer.js';

// The package is CommonJS (`module.exports = TelegramServer`); under NodeNext its typed default is the module object.
const Server = emulator as unknown as typeof TelegramServer;

/** The id the emulator's getMe gives every bot (for replies "to the bot's message" in groups). */
export const EMULATOR_BOT_ID = 666;

/** Starts the Telegram Bot API emulator on a free loopback port; `server.config.apiURL` is its API root. */
export async function startTelegramEmulator(): Promise<TelegramServer> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  const server = new Server({ host: '127.0.0.1', port });
  await server.start();
  return server;
}

/** A fresh emulator on the port of one that was stopped (the bots' API root stays the same): a platform coming back. */
export async function restartTelegramEmulator(stopped: TelegramServer): Promise<TelegramServer> {
  const server = new Server({ host: '127.0.0.1', port: stopped.config.port });
  await server.start();
  return server;
}
