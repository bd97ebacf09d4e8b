import type { IncomingMessage } from 'node:http';

/** Why a handshake was refused (counted per reason in `ConnectionGate.stats().refused`). */
export type RefusalReason = 'too_many_connections' | 'too_many_from_address' | 'unauthorized' | 'auth_error';

/** The message sent back to the client for each refusal (engine.io puts it in the 403 body's `message`). */
export const REFUSAL_MESSAGES: Record<RefusalReason, string> = {
  too_many_connections: 'too many connections: the server is at its connection limit, try again later',
  too_many_from_address: 'too many connections from this address: close some before opening more',
  unauthorized: 'unauthorized: a valid credential is required to connect',
  auth_error: 'unauthorized: the credential could not be checked, try again',
};

export interface ConnectionGateOptions {
  /** Connections kept open at once, in total (open ones plus handshakes being checked). */
  maxConnections: number;
  /** Connections kept open at once from one remote address. */
  maxPerAddress: number;
  /**
   * The client address a request is counted under (default: the TCP peer,
   * `::ffff:` prefix removed). Pass one that honours a trusted proxy's
   * `X-Forwarded-For` only if the deployment has one.
   */
  addressOf?: (req: IncomingMessage) => string;
  /** Told about every refusal (e.g. to count it in metrics); `error` is what the credential check threw. Must not throw. */
  onRefuse?: (reason: RefusalReason, address: string, req: IncomingMessage, error?: unknown) => void;
  /** Where a failing credential check or callback is reported (default: nowhere but `onRefuse`). */
  logger?: { warn(message: string, meta?: Record<string, unknown>): unknown };
}

/** A slot held for a handshake: `drop` frees it, `keep` hands it to the connection and returns what frees it then. */
interface Reservation {
  drop(): void;
  keep(): () => void;
}

/** Decides whether a handshake request carries a valid credential. A throw or rejection refuses (`auth_error`). */
export type Authenticate = (req: IncomingMessage) => Promise<boolean> | boolean;

/** The slice of engine.io's server the gate listens to (`io.engine`). */
export interface GatedEngine {
  on(event: 'connection', listener: (socket: { request: IncomingMessage; once(event: 'close', listener: () => void): unknown }) => void): unknown;
  on(event: 'connection_error', listener: (error: { req: IncomingMessage }) => void): unknown;
}

export interface ConnectionGateStats {
  /** Connections open or being handshaken now. */
  open: number;
  /** Open connections per remote address (only addresses with at least one). */
  perAddress: Record<string, number>;
  /** Handshakes refused since start, per reason. */
  refused: Record<RefusalReason, number>;
}

export interface ConnectionGate {
  /** Socket.IO's / engine.io's `allowRequest` option: called once per new handshake, before any connection is kept. */
  allowRequest(req: IncomingMessage, callback: (error: string | null | undefined, success: boolean) => void): void;
  /** Counts the engine's connections until they close. Call once, right after `new Server(...)`: `gate.track(io.engine)`. */
  track(engine: GatedEngine): void;
  stats(): ConnectionGateStats;
}

/** The TCP peer of a request, IPv4-mapped IPv6 written as IPv4. */
export function peerAddress(req: IncomingMessage): string {
  const address = req.socket.remoteAddress ?? 'unknown';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/**
 * Admission control for a Socket.IO server: every new engine.io handshake is
 * checked against a total and a per-address cap and, when given, a credential
 * check, before engine.io keeps anything for it. Without it, anyone who can
 * reach the port can hold thousands of idle connections (one file descriptor
 * each) until the process can no longer accept `/health`.
 *
 * A slot is reserved while the handshake is checked (so a burst of concurrent
 * handshakes cannot all pass the cap) and released when the connection closes,
 * when engine.io refuses the handshake, or when its TCP socket closes first.
 *
 * Pair it with a short `connectTimeout` (an engine connection that never joins
 * a namespace is dropped) and a small `maxHttpBufferSize`.
 *
 * @example
 * const gate = createConnectionGate(
 *   { maxConnections: env.SOCKET_MAX_CONNECTIONS, maxPerAddress: env.SOCKET_MAX_PER_ADDRESS },
 *   (req) => tokens.isValid(bearerOf(req)),
 * );
 * const io = new Server(httpServer, { allowRequest: gate.allowRequest, connectTimeout: 5000, maxHttpBufferSize: 64 * 1024 });
 * gate.track(io.engine);
 * // later: gate.stats() → { open: 3, perAddress: { '10.0.0.7': 3 }, refused: { unauthorized: 12, ... } }
 */
export function createConnectionGate(options: ConnectionGateOptions, authenticate?: Authenticate): ConnectionGate {
  const addressOf = options.addressOf ?? peerAddress;
  const perAddress = new Map<string, number>();
  const refused: Record<RefusalReason, number> = { too_many_connections: 0, too_many_from_address: 0, unauthorized: 0, auth_error: 0 };
  /** Handshakes admitted (or being checked) but not yet connected, by request. */
  const reserved = new Map<IncomingMessage, Reservation>();
  let open = 0;

  const take = (address: string): (() => void) => {
    open++;
    perAddress.set(address, (perAddress.get(address) ?? 0) + 1);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      open--;
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left > 0) perAddress.set(address, left);
      else perAddress.delete(address);
    };
  };

  const refuse = (reason: RefusalReason, address: string, req: IncomingMessage, callback: (error: string, success: boolean) => void, error?: unknown) => {
    refused[reason]++;
    try {
      options.onRefuse?.(reason, address, req, error);
    } finally {
      callback(REFUSAL_MESSAGES[reason], false);
    }
  };

  /** Holds a slot for a handshake until it connects, fails, or its TCP socket goes. */
  const reserve = (req: IncomingMessage, address: string): Reservation => {
    const release = take(address);
    const tcp = req.socket;
    const unwatch = () => {
      tcp.off('close', drop);
      if (reserved.get(req) === reservation) reserved.delete(req);
    };
    function drop() {
      unwatch();
      release();
    }
    const reservation: Reservation = {
      drop,
      keep: () => {
        unwatch();
        return release;
      },
    };
    tcp.once('close', drop);
    reserved.set(req, reservation);
    return reservation;
  };

  return {
    allowRequest(req, callback) {
      const address = addressOf(req);
      if (open >= options.maxConnections) return refuse('too_many_connections', address, req, callback);
      if ((perAddress.get(address) ?? 0) >= options.maxPerAddress) return refuse('too_many_from_address', address, req, callback);
      const slot = reserve(req, address);
      if (!authenticate) return callback(null, true);
      let verdict: Promise<boolean>;
      try {
        verdict = Promise.resolve(authenticate(req));
      } catch (error) {
        verdict = Promise.reject(error instanceof Error ? error : new Error(String(error)));
      }
      verdict
        .then(
          (ok) => {
            if (ok) return callback(null, true);
            slot.drop();
            refuse('unauthorized', address, req, callback);
          },
          (error: unknown) => {
            slot.drop();
            options.logger?.warn('connection refused: the credential check failed', { address, error });
            refuse('auth_error', address, req, callback, error);
          },
        )
        // A throw from engine.io's callback (or onRefuse) is contained to this handshake, never an unhandled rejection.
        .catch((error: unknown) => {
          options.logger?.warn('connection handshake failed after the gate', { address, error });
        });
    },

    track(engine) {
      engine.on('connection', (socket) => {
        // The slot moves from the handshake to the connection (its TCP socket may be kept alive or upgraded).
        const release = reserved.get(socket.request)?.keep() ?? take(addressOf(socket.request));
        socket.once('close', release);
      });
      engine.on('connection_error', ({ req }) => reserved.get(req)?.drop());
    },

    stats() {
      return { open, perAddress: Object.fromEntries(perAddress), refused: { ...refused } };
    },
  };
}
