/**
 * A real runner process (the same CLI as `npm run runner`) whose bots are the
 * fake channel instead of the chat SDKs. Every bot reports a customer message
 * each 300 ms, so tests can see inbound events cross the socket.
 */
import { runnerCli } from '../../src/runner-main.js';
import { fakeChannels } from './fake-channel.js';

const { registry, bots } = fakeChannels();
await runnerCli(process.argv.slice(2), process.env, registry);
setInterval(() => {
  for (const bot of bots.values()) {
    bot.emit({ type: 'message', message: { agentId: bot.id, channel: bot.channel, chatId: 'c-1', senderId: 'customer-1', text: 'olá', at: new Date().toISOString() } });
  }
}, 300).unref();
