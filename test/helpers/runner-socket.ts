import { io as connectTo, type Socket } from 'socket.io-client';

/**
 * A raw Socket.IO client on the API port's `/agents` namespace, as a runner or
 * an action agent opens it: the token as an `Authorization: Bearer` header
 * (checked at the engine.io handshake) and in `auth` (checked when joining the
 * namespace). No reconnection: a test sees each refusal once.
 */
export function runnerSocket(url: string, token: string, namespace = '/agents'): Socket {
  return connectTo(`${url}${namespace}`, { auth: { token }, extraHeaders: { authorization: `Bearer ${token}` }, transports: ['websocket'], reconnection: false, forceNew: true });
}

/** Resolves when `socket` joined its namespace; rejects with the refusal (`connect_error`). */
export function connected(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (error) => reject(error));
  });
}
