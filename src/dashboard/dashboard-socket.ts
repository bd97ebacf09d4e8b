import type { Server as HttpServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import type { Logger } from '../config/logger.js';
import type { EventBus } from '../coordination/event-bus.js';
import type { DashboardViews } from './dashboard-views.js';
import { approvalView } from './dashboard-views.js';
import type { OperatorDirectory } from './operator-directory.js';
import { PairingBoard, type PairingEnd, type PairingView } from './pairing-board.js';
import { isSameOrigin } from './same-origin.js';
import { readCookie, SESSION_COOKIE, type Session, type SessionManager } from './session-manager.js';

export interface DashboardSocketOptions {
  views: DashboardViews;
  sessions: SessionManager;
  operators: OperatorDirectory;
  bus: EventBus;
  logger: Logger;
  /** How often the agent grid (latencies, uptime) and metrics are refreshed for connected pages (default 10 s). */
  refreshMs?: number;
  /** How often new audit events are looked for (default 1 s). */
  auditPollMs?: number;
  /** How often open connections' sessions are checked again (expired, revoked, operator removed; default 30 s). */
  sessionCheckMs?: number;
  /** Bursts of changes (1,000 approvals at once) recompute the metrics and rules at most once per this (default 1 s). */
  coalesceMs?: number;
}

/** What is recomputed (coalesced) after changes: metrics, learned rules, and the pending count (`{ pendingTotal }`). */
type Recomputed = 'metrics' | 'rules' | 'pending';

/**
 * The dashboard's live side: bus events pushed to signed-in pages, keyed by
 * the page's session cookie (anyone else is refused at the handshake).
 * Events: `snapshot`, `me`, `agent`, `agents`, `approval`, `pending`, `pairing`,
 * `audit`, `conversation`, `message`, `metrics`, `rules`.
 */
export class DashboardSocket {
  private io?: Server;
  private readonly pairings = new PairingBoard();
  private readonly offs: Array<() => void> = [];
  private timers: NodeJS.Timeout[] = [];
  private readonly pending = new Map<Recomputed, NodeJS.Timeout>();
  private lastAuditSeq = 0;
  private readonly log: Logger;

  constructor(private readonly options: DashboardSocketOptions) {
    this.log = options.logger.child({ module: 'dashboard' });
    const { bus } = options;
    this.offs.push(
      bus.on('agent.status', async (e) => {
        if (e.to === 'up') this.sendPairing(this.pairings.end(e.agentId, 'ended'));
        const card = await options.views.agent(e.agentId);
        if (card) this.io?.emit('agent', card);
        this.later('metrics');
      }),
      bus.on('approval.updated', async (approval) => {
        this.io?.emit('approval', approvalView(approval));
        if (approval.status !== 'pending') this.later('rules');
        this.later('metrics');
        this.later('pending');
      }),
      bus.on('agent.pairing', (e) => this.sendPairing(this.pairings.update(e))),
      bus.on('conversation.updated', async (c) => {
        this.io?.emit('conversation', await options.views.conversation(c));
      }),
      bus.on('message.recorded', (m) => {
        this.io?.emit('message', { id: m.id, contactId: m.contactId, branchId: m.branchId, channel: m.channel, direction: m.direction, at: m.at });
      }),
    );
  }

  /** Attaches Socket.IO to the dashboard's HTTP server and starts the refresh timers. */
  async attach(server: HttpServer): Promise<void> {
    const io = new Server(server, {
      serveClient: true,
      cors: { origin: false },
      // WebSockets have no CORS: refuse a handshake started by a page of another origin.
      allowRequest: (req, callback) => callback(isSameOrigin(req) ? null : 'cross-origin', isSameOrigin(req)),
    });
    io.use(async (socket, next) => {
      const session = await this.sessionOf(socket).catch(() => null);
      const user = session && this.options.operators.resolve(session);
      if (!session || !user) {
        const error = new Error('unauthorized: sign in to the dashboard first') as Error & { data?: unknown };
        error.data = { code: 'unauthorized' };
        return next(error);
      }
      socket.data.session = session;
      socket.data.user = user;
      next();
    });
    io.on('connection', (socket) => void this.welcome(socket));
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

  private sessionOf(socket: Socket): Promise<Session | null> {
    return this.options.sessions.verify(readCookie(socket.request.headers.cookie, SESSION_COOKIE));
  }

  /** A connection lives no longer than its session: expired, revoked elsewhere, or its operator removed from the config. */
  private async recheckSessions(): Promise<void> {
    if (!this.io) return;
    for (const socket of this.io.sockets.sockets.values()) {
      const session = await this.sessionOf(socket);
      if (!session || !this.options.operators.resolve(session)) socket.disconnect(true);
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
