import type { BotEvent } from '../bots/bot-agent.js';

/** One handler per kind of bot event: adding a kind to `BotEvent` fails to compile until it is handled here. */
export type BotEventHandlers = { [K in BotEvent['type']]: (event: Extract<BotEvent, { type: K }>) => void };

/**
 * The one way bot events reach the core: an exhaustive switch over the union,
 * each kind to its handler. A handler that throws is contained to its event.
 */
export function botEventDispatcher(handlers: BotEventHandlers, onError: (error: unknown, event: BotEvent) => void): (event: BotEvent) => void {
  return (event) => {
    try {
      switch (event.type) {
        case 'message':
          return handlers.message(event);
        case 'pairing':
          return handlers.pairing(event);
        case 'connection':
          return handlers.connection(event);
        default: {
          const unknown: never = event;
          return onError(new Error(`unhandled bot event ${JSON.stringify(unknown).slice(0, 100)}`), event);
        }
      }
    } catch (error) {
      onError(error, event);
    }
  };
}
