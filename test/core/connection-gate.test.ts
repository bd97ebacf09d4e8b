import { afterEach, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import { createConnectionGate, REFUSAL_MESSAGES, type ConnectionGate } from '../../src/core/connection-gate.js';
import { until } from '../helpers/until.js';

interface Harness {
  url: string;
  io: Server;
  gate: ConnectionGate;
  http: HttpServer;
}

const open: Harness[] = [];
const clients: ClientSocket[] = [];

async function serve(limits: { maxConnections: number; maxPerAddress: number }, authenticate?: (req: IncomingMessage) => Promise<boolean> | boolean): Promise<Harness> {
  const http = createServer();
  const gate = createConnectionGate(limits, authenticate);
  const io = new Server(http, { allowRequest: gate.allowRequest, connectTimeout: 2000 });
  gate.track(io.engine);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const h = { url: `http://127.0.0.1:${(http.address() as AddressInfo).port}`, io, gate, http };
  open.push(h);
  return h;
}

/** Connects and resolves with 'connected' or the refusal message the server sent. */
function attempt(url: string, options: { transports?: Array<'websocket' | 'polling'>; extraHeaders?: Record<string, string> } = {}): Promise<{ socket: ClientSocket; outcome: string }> {
  const socket = connect(url, { reconnection: false, forceNew: true, transports: options.transports ?? ['websocket'], extraHeaders: options.extraHeaders });
  clients.push(socket);
  return new Promise((resolve) => {
    socket.once('connect', () => resolve({ socket, outcome: 'connected' }));
    socket.once('connect_error', (error: Error & { context?: { responseText?: string } }) => resolve({ socket, outcome: error.context?.responseText ?? error.message }));
  });
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  for (const h of open.splice(0)) {
    h.io.engine.close();
    await new Promise<void>((resolve) => h.http.close(() => resolve()));
  }
});

describe('createConnectionGate', () => {
  it('refuses past the per-address cap with a clear reason, and admits again once one closes', async () => {
    const h = await serve({ maxConnections: 100, maxPerAddress: 2 });
    const a = await attempt(h.url);
    const b = await attempt(h.url);
    expect([a.outcome, b.outcome]).toEqual(['connected', 'connected']);
    const c = await attempt(h.url, { transports: ['polling'] });
    expect(c.outcome).toContain(REFUSAL_MESSAGES.too_many_from_address);
    expect(h.gate.stats()).toMatchObject({ open: 2, perAddress: { '127.0.0.1': 2 }, refused: { too_many_from_address: 1 } });

    a.socket.disconnect();
    await until('the closed connection to be released', () => h.gate.stats().open === 1);
    expect((await attempt(h.url)).outcome).toBe('connected');
  });

  it('refuses past the total cap', async () => {
    const h = await serve({ maxConnections: 1, maxPerAddress: 10 });
    expect((await attempt(h.url)).outcome).toBe('connected');
    expect((await attempt(h.url, { transports: ['polling'] })).outcome).toContain(REFUSAL_MESSAGES.too_many_connections);
    expect(h.gate.stats().refused.too_many_connections).toBe(1);
  });

  it('authenticates at the handshake: nothing is kept for a refused one, and a throwing check refuses too', async () => {
    const h = await serve({ maxConnections: 100, maxPerAddress: 100 }, async (req) => {
      if (req.headers['x-key'] === 'boom') throw new Error('store down');
      return req.headers['x-key'] === 'good';
    });
    const refusals = await Promise.all(Array.from({ length: 30 }, () => attempt(h.url, { transports: ['polling'], extraHeaders: { 'x-key': 'bad' } })));
    for (const r of refusals) expect(r.outcome).toContain(REFUSAL_MESSAGES.unauthorized);
    expect((await attempt(h.url, { transports: ['polling'], extraHeaders: { 'x-key': 'boom' } })).outcome).toContain(REFUSAL_MESSAGES.auth_error);
    expect(h.io.engine.clientsCount).toBe(0);
    expect(h.gate.stats()).toMatchObject({ open: 0, refused: { unauthorized: 30, auth_error: 1 } });

    expect((await attempt(h.url, { transports: ['polling'], extraHeaders: { 'x-key': 'good' } })).outcome).toBe('connected');
    expect(h.gate.stats().open).toBe(1);
  });

  it('releases the slot of a handshake engine.io itself refuses after the gate (a bad WebSocket upgrade)', async () => {
    const h = await serve({ maxConnections: 100, maxPerAddress: 1 });
    // An upgrade without Sec-WebSocket-Key passes the gate, then ws refuses it and closes the TCP socket.
    const { request } = await import('node:http');
    await new Promise<void>((resolve) => {
      const req = request(`${h.url}/socket.io/?EIO=4&transport=websocket`, { headers: { Connection: 'Upgrade', Upgrade: 'websocket' } });
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve());
      });
      req.on('error', () => resolve());
      req.end();
    });
    await until('the refused upgrade to be released', () => h.gate.stats().open === 0);
    expect((await attempt(h.url)).outcome).toBe('connected');
  });
});
