import type { IncomingMessage, Server as HttpServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import type { Logger } from '../config/logger.js';
import { createConnectionGate, type ConnectionGate, type ConnectionGateStats } from '../core/connection-gate.js';
import type { EventBus } from '../coordination/event-bus.js';
import type { DashboardViews } from './dashboard-views.js';
import type { OperatorDirectory } from './operator-directory.js';
import { PairingBoard, type PairingEnd, type PairingView } from './pairing-board.js';
import { clientAddress, isSameOrigin, type ProxyTrust } from './same-origin.js';
import { readCookie, SESSION_COOKIE, type DashboardUser, type Session, type SessionManager } from './session-manager.js';

export interface DashboardSocketOptions {
  views: DashboardViews;
  sessions: SessionManager;
  operators: OperatorDirectory;
  bus: EventBus;
  logger: Logger;
  /** Which peers' X-Forwarded-For / -Host are believed (TRUST_PROXY). */
  trust: ProxyTrust;
  /** Connections kept at once, in total and per client address (defaults: 2000 and 50, as SOCKET_MAX_*). */
  limits?: { maxConnections: number; maxPerAddress: number };
  /** How long a new connection may take to join the namespace before it is dropped (default 5 s; Socket.IO's is 45 s). */
  connectTimeoutMs?: number;
  /** How often the agent grid (latencies, uptime) and metrics are refreshed for connected pages (default 10 s). */
  refreshMs?: number;
  /** How often new audit events are looked for (default 1 s). */
  auditPollMs?: number;
  /** How often open connections' sessions are checked again (expired, revoked, operator removed; default 30 s). */
  sessionCheckMs?: number;
  /** Bursts of changes (1,000 approvals at once) recompute the metrics and rules at most once per this (default 1 s). */
  coalesceMs?: number;
}

/** The live side's connections: the gate's counts, cross-origin refusals, and what engine.io holds now. */
export interface DashboardConnections extends ConnectionGateStats {
  refusedCrossOrigin: number;
  /** Engine.io connections held now (0 before `attach`). */
  engineClients: number;
}

/** Largest packet a page may send: it sends nothing but Socket.IO's own connect packet. */
const MAX_PACKET_BYTES = 16 * 1024;
const UNAUTHORIZED = 'unauthorized: sign in to the dashboard first';

/** What is recomputed (coalesced) after changes: metrics, learned rules, and the pending count (`{ pendingTotal }`). */
type Recomputed = 'metrics' | 'rules' | 'pending';

/**
 * The dashboard's live side: bus events pushed to signed-in pages, keyed by
 * the page's session cookie (anyone else is refused at the handshake).
 * Events (server to page only): `snapshot`, `me`, `agent`, `agents`,
 * `approval`, `pending`, `pairing`, `audit`, `conversation`, `message`,
 * `metrics`, `rules`, `failure`. The page emits nothing; anything it sends is
 * ignored (and packets past 16 KB close the connection).
 *
 * Admission: a handshake must come from the dashboard's origin and carry a
 * valid session cookie, checked by engine.io before it keeps anything (see
 * `createConnectionGate`), under a total and a per-address cap; only the
 * main namespace `/` exists. The namespace middleware checks the session
 * again (it may have ended in between) and never lets an error escape.
 */
export class DashboardSocket {
  private io?: Server;
  private readonly pairings = new PairingBoard();
  private readonly offs: Array<() => void> = [];
  private timers: NodeJS.Timeout[] = [];
  private readonly pending = new Map<Recomputed, NodeJS.Timeout>();
  private lastAuditSeq = 0;
  private readonly log: Logger;
  private gate?: ConnectionGate;
  private refusedCrossOrigin = 0;

  constructor(private readonly options: DashboardSocketOptions) {
    this.log = options.logger.child({ module: 'dashboard' });
    const { bus } = options;
    this.offs.push(
      bus.on('agent.status', async (e) => {
        if (e.to === 'up') this.sendPairing(this.pairings.end(e.agentId, 'ended'));
        const card = this.watched() ? await options.views.agent(e.agentId) : null;
        if (card) this.io?.emit('agent', card);
        this.later('metrics');
      }),
      bus.on('approval.updated', async (approval) => {
        if (this.watched()) this.io?.emit('approval', options.views.approvalView(approval));
        if (approval.status !== 'pending') this.later('rules');
        this.later('metrics');
        this.later('pending');
      }),
      bus.on('agent.pairing', (e) => this.sendPairing(this.pairings.update(e))),
      bus.on('conversation.updated', async (c) => {
        if (this.watched()) this.io?.emit('conversation', await options.views.conversation(c));
      }),
      bus.on('message.recorded', (m) => {
        this.io?.emit('message', { id: m.id, contactId: m.contactId, branchId: m.branchId, channel: m.channel, direction: m.direction, at: m.at });
      }),
    );
  }

  /** Whether any page is connected: with none, live views are not built at all (a page gets a full snapshot when it connects). */
  private watched(): boolean {
    return (this.io?.engine?.clientsCount ?? 0) > 0;
  }

  /** Attaches Socket.IO to the dashboard's HTTP server and starts the refresh timers. */
  async attach(server: HttpServer): Promise<void> {
    const { trust } = this.options;
    const gate = createConnectionGate(
      {
        ...(this.options.limits ?? { maxConnections: 2000, maxPerAddress: 50 }),
        addressOf: (req) => clientAddress(req, trust),
        // Refusals are counted, not logged one by one: a flood must not become a flood of log lines.
        logger: this.log,
      },
      async (req) => (await this.signedIn(req)) !== null,
    );
    const io = new Server(server, {
      serveClient: true,
      cors: { origin: false },
      connectTimeout: this.options.connectTimeoutMs ?? 5000,
      maxHttpBufferSize: MAX_PACKET_BYTES,
      // WebSockets have no CORS: refuse a handshake started by a page of another origin, then admit through the gate.
      allowRequest: (req, callback) => {
        if (isSameOrigin(req, trust)) return gate.allowRequest(req, callback);
        this.refusedCrossOrigin++;
        callback('cross-origin: the live socket only serves the dashboard page', false);
      },
    });
    gate.track(io.engine);
    this.gate = gate;
    io.use((socket, next) => {
      // Contained: whatever the session check throws or rejects with becomes a refused connection, never a crash.
      this.signedIn(socket.request).then(
        (signedIn) => {
          if (!signedIn) return next(refusal(UNAUTHORIZED, 'unauthorized'));
          socket.data.session = signedIn.session;
          socket.data.user = signedIn.user;
          next();
        },
        (error: unknown) => {
          this.log.warn('dashboard socket session check failed', { error });
          next(refusal('unavailable: could not check the session, try again', 'unavailable'));
        },
      );
    });
    io.on('connection', (socket) => {
      this.welcome(socket).catch((error: unknown) => {
        this.log.error('dashboard socket welcome failed', { error });
        socket.disconnect(true);
      });
    });
    this.io = io;
    this.lastAuditSeq = (await this.options.views.audit(0, 1))[0]?.seq ?? 0;
    const refresh = this.options.refreshMs ?? 10_000;
    this.timers = [
      setInterval(() => void this.recheckSessions().catch((error: unknown) => this.log.warn('dashboard session check failed', { error })), this.options.sessionCheckMs ?? 30_000),
      setInterval(() => void this.refresh().catch((error: unknown) => this.log.warn('dashboard refresh failed', { error })), refresh),
      setInterval(() => void this.pollAudit().catch((error: unknown) => this.log.warn('dashboard audit poll failed', { error })), this.options.auditPollMs ?? 1000),
    ];
    for (const t of this.timers) t.unref();
  }

  /** The session and user behind a request's cookie, or null (no cookie, forged, expired, revoked, credential changed, operator removed). */
  private async signedIn(req: IncomingMessage): Promise<{ session: Session; user: DashboardUser } | null> {
    const session = await this.options.sessions.verify(readCookie(req.headers.cookie, SESSION_COOKIE));
    const user = session && this.options.operators.resolve(session);
    return session && user ? { session, user } : null;
  }

  /** Connections open and refused (see `DashboardConnections`). */
  connections(): DashboardConnections {
    const stats = this.gate?.stats() ?? { open: 0, perAddress: {}, refused: { too_many_connections: 0, too_many_from_address: 0, unauthorized: 0, auth_error: 0 } };
    return { ...stats, refusedCrossOrigin: this.refusedCrossOrigin, engineClients: this.io?.engine.clientsCount ?? 0 };
  }

  /** A connection lives no longer than its session: expired, revoked elsewhere, its credential changed, or its operator removed from the config. */
  private async recheckSessions(): Promise<void> {
    if (!this.io) return;
    for (const socket of this.io.sockets.sockets.values()) {
      if (!(await this.signedIn(socket.request))) socket.disconnect(true);
    }
  }

  private async welcome(socket: Socket): Promise<void> {
    const session = socket.data.session as Session;
    await socket.join(`sid:${session.sid}`);
    socket.emit('me', this.options.operators.view(socket.data.user));
    try {
      socket.emit('snapshot', { ...(await this.options.views.snapshot()), pairings: this.pairings.list() });
    } catch (error) {
      this.log.error('dashboard snapshot failed', { error });
      socket.emit('failure', { message: 'Could not load the dashboard data; retrying on reconnect' });
    }
  }

  private sendPairing(update: PairingView | PairingEnd | null): void {
    if (update) this.io?.emit('pairing', update);
  }

  /** Closes the live connections of a session (on logout). */
  disconnectSession(session: Session): void {
    this.io?.in(`sid:${session.sid}`).disconnectSockets(true);
  }

  private connected(): boolean {
    return Boolean(this.io && this.io.engine.clientsCount > 0);
  }

  /** Recomputes metrics, rules or the pending count for connected pages once per `coalesceMs`, however many changes arrive meanwhile. */
  private later(what: Recomputed): void {
    if (!this.connected() || this.pending.has(what)) return;
    const timer = setTimeout(() => {
      this.pending.delete(what);
      if (!this.connected()) return;
      const work = { metrics: () => this.options.views.metrics(), rules: () => this.options.views.rules(), pending: () => this.options.views.pendingTotal() }[what]();
      void work.then(
        (value) => this.io?.emit(what, value),
        (error: unknown) => this.log.warn(`dashboard ${what} failed`, { error }),
      );
    }, this.options.coalesceMs ?? 1000);
    timer.unref();
    this.pending.set(what, timer);
  }

  private async refresh(): Promise<void> {
    if (!this.connected()) return;
    this.io?.emit('agents', await this.options.views.agents());
    this.later('metrics');
  }

  private async pollAudit(): Promise<void> {
    if (!this.io) return;
    const events = await this.options.views.audit(this.lastAuditSeq, 200);
    if (events.length === 0) return;
    this.lastAuditSeq = events[events.length - 1].seq;
    // An operator's restart (here, on the REST API or another replica) replaces the connection whose QR was shown.
    for (const e of events) if (e.type === 'agent.restart' && e.agentId) this.sendPairing(this.pairings.end(e.agentId, 'ended', e.at));
    // Rules suggested, accepted or revoked anywhere (dashboard, REST API, another replica).
    if (events.some((e) => e.type.startsWith('approval.rule-'))) this.later('rules');
    if (this.connected()) this.io.emit('audit', events);
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    for (const t of this.pending.values()) clearTimeout(t);
    this.pending.clear();
    for (const off of this.offs.splice(0)) off();
    const io = this.io;
    this.io = undefined;
    if (io) {
      io.disconnectSockets(true);
      // io.close() would also close the HTTP server; the caller owns that.
      io.engine.close();
    }
  }
}

/** A refusal the Socket.IO client sees as `connect_error` (`message`, and `data.code` to branch on). */
function refusal(message: string, code: string): Error & { data: { code: string } } {
  return Object.assign(new Error(message), { data: { code } });
}
