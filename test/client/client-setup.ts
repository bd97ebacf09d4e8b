import type { EventEmitter } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator.js';

export const YAML = `
branches:
  - id: lisboa
    name: Lisboa
    managers:
      - { id: ana, name: Ana, role: owner, telegram: 1001 }
      - { id: bruno, name: Bruno, role: manager, telegram: 1002 }
  - id: porto
    name: Porto
    managers:
      - { id: carla, name: Carla, role: owner, telegram: 2001 }
`;

/** A real coordinator with the action agent `refunds` at lisboa (registered through the API) and manager tokens for Ana and Bruno. */
export interface ClientWorld {
  t: TestCoordinator;
  agentToken: string;
  callbackSecret: string;
  managers: { ana: string; bruno: string };
  /** How many long-polls the coordinator holds open now. */
  longPolls(): number;
  close(): Promise<void>;
}

export async function startClientWorld(options: { yaml?: string; env?: Record<string, string> } = {}): Promise<ClientWorld> {
  const t = await startTestCoordinator({ yaml: options.yaml ?? YAML, env: options.env });
  const registered = await t.call('/api/agents', { method: 'POST', json: { id: 'refunds', branchId: 'lisboa', name: 'Refunds' } });
  if (registered.status !== 201) throw new Error(`could not register the agent: ${JSON.stringify(registered.body)}`);
  const mint = async (subject: string) => {
    const res = await t.call('/api/tokens', { method: 'POST', json: { role: 'manager', subject } });
    if (res.status !== 201) throw new Error(`could not mint a manager token: ${JSON.stringify(res.body)}`);
    return String(res.body.token);
  };
  // A long-poll waits as a listener of the approval's updates on the bus (approval-routes.ts).
  const emitter = (t.running.coordinator.bus as unknown as { emitter: EventEmitter }).emitter;
  const idle = emitter.listenerCount('approval.updated');
  return {
    t,
    agentToken: String(registered.body.token),
    callbackSecret: String(registered.body.callbackSecret),
    managers: { ana: await mint('ana'), bruno: await mint('bruno') },
    longPolls: () => emitter.listenerCount('approval.updated') - idle,
    close: () => t.close(),
  };
}

/** An HTTP server on 127.0.0.1 that hands each request (raw body as bytes) to `handler`; `close` also drops open connections. */
export async function localServer(handler: (req: { method: string; url: string; headers: IncomingHttpHeaders; body: Buffer }) => number | null): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const status = handler({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
      // null: never answer (a peer that hangs).
      if (status === null) return;
      res.statusCode = status;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The global fetch, with every request it is given written down (method, path and query, headers). */
export function recordingFetch(seen: Array<{ method: string; url: URL; headers: Headers }>, inner: typeof fetch = fetch): typeof fetch {
  return (input, init) => {
    seen.push({ method: init?.method ?? 'GET', url: new URL(String(input)), headers: new Headers(init?.headers) });
    return inner(input, init);
  };
}
