import type { AnyMessageContent, ConnectionState, proto, WAMessage, WAMessageKey } from '@whiskeysockets/baileys';
import type { Logger } from '../../config/logger.js';
import { isoNow, type Clock, type TimerHandle } from '../../core/clock.js';
import type { BotEvent, ProbeResult } from '../bot-agent.js';
import { baileysLogger } from './baileys-logger.js';
import { classifyDisconnect, type DisconnectInfo } from './disconnect-reason.js';
import type { SendFn } from './outbound-governor.js';
import { ReconnectBackoff } from './reconnect-backoff.js';
import { deserialise, forgetUnfinishedPairing, loadAuthState, type StoredAuthState } from './store-auth-state.js';
import { baileysSocket, jidUser, socketDefaults, type MakeSocket, type SocketOptions, type WaSocket } from './whatsapp-socket.js';
import type { WhatsAppState } from './whatsapp-state.js';

/** Why the number is not driven any more; `needsHuman` when only a person can fix it (the probe says so). */
export type Halt = { detail: string; needsHuman: boolean };

/** Pairing codes requested per activation before only QRs are offered (a restart allows more). */
const MAX_PAIRING_CODES = 3;

/** The agent settings the connection reads (a slice of `WhatsAppAgentConfig`). */
export interface ConnectionOptions {
  /** The branch's number: with it, a pairing code is requested besides the QR. */
  phone?: string;
  /** Another WhatsApp WebSocket endpoint (self-hosted proxies, tests). */
  waWebSocketUrl?: string;
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  /** The probe fails when nothing was received on an open socket for this long. */
  activityWindowMs?: number;
}

/** What the connection needs from the bot around it. */
export interface ConnectionPorts {
  agentId: string;
  options: ConnectionOptions;
  state: WhatsAppState;
  log: Logger;
  clock: Clock;
  makeSocket?: MakeSocket;
  socketOptions?: SocketOptions;
  random?: () => number;
  /** Pairing and connection events, for the bot's listeners. */
  emit(event: BotEvent): void;
  /** The open socket's send, for the outbound queue (undefined while down: the queue waits). */
  setSender(send: SendFn | undefined): void;
  /** Live messages received on the current socket. */
  onMessages(messages: WAMessage[]): Promise<void>;
}

/**
 * The connection lifecycle of one number: opens Baileys sockets with the
 * stored auth state, handles pairing (QR and code), classifies every close and
 * reconnects with backoff, resets a dead session, and halts when a person must
 * act. It knows nothing of sending or approvals: the open socket's send is
 * handed to the outbound queue, received messages to the bot.
 *
 * @example
 * const connection = new WhatsAppConnection(ports);
 * connection.activate();
 * await connection.connect();
 * connection.health(); // { ok: false, detail: 'connecting' } until the socket opens
 */
export class WhatsAppConnection {
  private readonly id: string;
  private readonly log: Logger;
  private readonly clock: Clock;
  private sock: WaSocket | undefined;
  private auth: StoredAuthState | undefined;
  private running = false;
  private open = false;
  private readonly backoff: ReconnectBackoff;
  private lastActivity = 0;
  private lastClose: (DisconnectInfo & { at: string }) | undefined;
  private halted: Halt | undefined;
  private pairing: { qr?: string; code?: string } | undefined;
  private newLogin = false;
  /** Reconnecting after the 515 that follows a pairing: the next open reports `paired`. */
  private justPaired = false;
  /** The stored session must be cleared before the next connection (after 401/403/411/500). */
  private resetSession = false;
  private pairingRequested = false;
  /** Pairing codes asked for since `activate`: each one notifies the phone, so they stop after a few. */
  private pairingCodes = 0;
  private reconnectTimer: TimerHandle | undefined;
  /** Bumped by every activate and deactivate: work begun under an older one must not open a socket. */
  private generation = 0;

  constructor(private readonly ports: ConnectionPorts) {
    this.id = ports.agentId;
    this.log = ports.log;
    this.clock = ports.clock;
    const { reconnectBaseMs, reconnectMaxMs } = ports.options;
    this.backoff = new ReconnectBackoff({ clock: ports.clock, baseMs: reconnectBaseMs ?? 1000, maxMs: reconnectMaxMs ?? 60_000, random: ports.random });
  }

  /** Between `activate` and `deactivate` (also while halted or reconnecting). */
  get started(): boolean {
    return this.running;
  }

  /** A socket is open: messages can go out now. */
  get connected(): boolean {
    return this.open;
  }

  /** Why the last socket closed, while not reconnected since. */
  get closeReason(): string | undefined {
    return this.lastClose?.reason;
  }

  /** The current socket, if any (for the LID → phone mapping). */
  get socket(): WaSocket | undefined {
    return this.sock;
  }

  /** Our own JIDs (phone and LID) as the socket and the creds know them. */
  meIds(): string[] {
    return [this.sock?.user?.id, this.sock?.user?.lid, this.auth?.state.creds.me?.id, this.auth?.state.creds.me?.lid].filter((j): j is string => Boolean(j));
  }

  /** Marks the number as to be driven: a new generation, no halt, backoff from scratch. `connect` then opens the first socket. */
  activate(): void {
    this.running = true;
    this.generation++;
    this.halted = undefined;
    this.backoff.reset();
    this.pairingCodes = 0;
  }

  /** Stops driving the number: no more reconnects, the socket closed, the auth state flushed and forgotten. */
  async deactivate(): Promise<void> {
    this.running = false;
    this.generation++;
    this.clearTimers();
    await this.dropSocket();
    await this.auth?.flush();
    this.auth = undefined;
  }

  /** The connection's side of the probe: halted, pairing, reconnecting, or open and recently active. */
  health(): ProbeResult {
    if (this.halted) return { ok: false, needsHuman: this.halted.needsHuman, detail: this.halted.detail };
    if (!this.running) return { ok: false, detail: 'not started' };
    if (this.pairing) {
      const how = this.pairing.code ? `enter the pairing code ${this.pairing.code} on the phone, or scan the QR on the dashboard` : 'scan the QR on the dashboard with WhatsApp > Linked devices';
      return { ok: false, needsHuman: true, detail: `needs pairing: ${how}` };
    }
    // Reconnecting with its own backoff: the health monitor must not restart it over that.
    if (!this.open) return this.lastClose ? { ok: false, reconnecting: true, detail: `disconnected: ${this.lastClose.reason} at ${this.lastClose.at}; reconnecting` } : { ok: false, detail: 'connecting' };
    const idleMs = this.clock.now() - this.lastActivity;
    const window = this.ports.options.activityWindowMs ?? 90_000;
    if (idleMs > window) return { ok: false, detail: `socket open but nothing received for ${Math.round(idleMs / 1000)} s` };
    return { ok: true, latencyMs: 0, detail: `connected as +${this.sock?.user ? jidUser(this.sock.user.id) : '?'}` };
  }

  /** Opens a socket with the stored (or, after a reset, fresh) auth state, unless stopped or halted meanwhile. */
  async connect(): Promise<void> {
    const generation = this.generation;
    const current = () => this.running && !this.halted && generation === this.generation;
    if (!current()) return;
    if (this.resetSession) await this.discardSession();
    // Reused across reconnects (Baileys keeps the creds it updates in this object): the 515 right after pairing
    // must not read the creds back from the store before `saveCreds` has reached it.
    const auth = this.auth ?? (await loadAuthState(this.ports.state.auth, baileysLogger(this.log)));
    if (!current()) return;
    this.auth = auth;
    // A code requested on an earlier socket but never entered: register again rather than log in (WhatsApp would refuse with 401).
    if (forgetUnfinishedPairing(auth.state.creds)) {
      this.log.info('the last pairing did not complete; registering again for a new QR and pairing code');
      await auth.saveCreds();
      if (!current()) return;
    }
    const sock = (this.ports.makeSocket ?? baileysSocket)({
      ...socketDefaults(),
      ...this.ports.socketOptions,
      auth: auth.state,
      logger: baileysLogger(this.log),
      ...(this.ports.options.waWebSocketUrl ? { waWebSocketUrl: this.ports.options.waWebSocketUrl } : {}),
      getMessage: (key) => this.getMessage(key),
    });
    this.sock = sock;
    this.pairingRequested = false;
    const mine = <T>(fn: (arg: T) => unknown) => (arg: T) => {
      if (this.sock !== sock) return;
      this.touch();
      const failed = (error: unknown) => this.log.error('WhatsApp event handling failed', { error });
      try {
        // Called at once (a close must mark the number down before anything else runs); async failures are logged too.
        void Promise.resolve(fn(arg)).catch(failed);
      } catch (error) {
        failed(error);
      }
    };
    sock.ev.on('creds.update', mine(() => auth.saveCreds()));
    sock.ev.on('connection.update', mine((u: Partial<ConnectionState>) => this.onConnection(sock, u)));
    sock.ev.on('messages.upsert', mine(({ messages, type }: { messages: WAMessage[]; type: string }) => (type === 'notify' && Array.isArray(messages) ? this.ports.onMessages(messages) : undefined)));
    sock.ws?.on('frame', () => this.sock === sock && this.touch());
  }

  /** Stops reconnecting (a person must act) but keeps the lease, so nobody else fights for the number meanwhile. */
  halt(halt: Halt): void {
    this.markHalted(halt);
    this.clearTimers();
    this.log.error(`WhatsApp agent ${this.id} ${halt.detail}`);
  }

  /** Records why the number cannot be driven, for the probe, without stopping anything (nothing runs yet, e.g. a refused lease). */
  markHalted(halt: Halt): void {
    this.halted = halt;
  }

  /** Forgets the current socket (its late events are ignored) and closes it. */
  async dropSocket(): Promise<void> {
    const sock = this.sock;
    this.sock = undefined;
    this.open = false;
    this.ports.setSender(undefined);
    if (!sock) return;
    try {
      await sock.end(undefined);
    } catch (error) {
      // Already forgotten above (its late events are ignored): a socket that fails to close is dropped all the same.
      this.log.warn('the old WhatsApp socket failed to close; dropped anyway', { error });
    }
  }

  /** Connects after `delay` ms; a connect that fails (the store, say) is retried with backoff instead of leaving the number down. */
  private reconnect(delay: number): void {
    this.clearTimers();
    const attempt = () =>
      void this.connect().catch((error: unknown) => {
        const next = this.backoff.next();
        this.log.error(`WhatsApp could not connect; retrying in ${next} ms`, { error });
        this.reconnect(next);
      });
    if (delay <= 0) return attempt();
    this.reconnectTimer = this.clock.setTimeout(() => {
      this.reconnectTimer = undefined;
      attempt();
    }, delay);
  }

  /** Forgets the session: the old auth state is sealed first, so a socket still running on it cannot write into the next one. */
  private async discardSession(): Promise<void> {
    const auth = this.auth;
    this.auth = undefined;
    auth?.seal();
    await auth?.flush();
    await this.ports.state.auth.clear();
    this.resetSession = false;
  }

  private async onConnection(sock: WaSocket, u: Partial<ConnectionState>): Promise<void> {
    if (!u || typeof u !== 'object') return;
    if (typeof u.qr === 'string' && u.qr) {
      this.pairing = { ...this.pairing, qr: u.qr };
      this.ports.emit({ type: 'pairing', agentId: this.id, qr: u.qr });
      this.log.warn(`WhatsApp agent ${this.id} needs pairing: scan the QR on the dashboard (WhatsApp > Linked devices > Link a device)`);
      const phone = this.ports.options.phone;
      if (phone && !this.pairingRequested && !this.auth?.state.creds.account) {
        this.pairingRequested = true;
        if (this.pairingCodes >= MAX_PAIRING_CODES && this.pairing?.code) {
          // The code of an earlier socket died with it: stop showing it.
          this.pairing = { qr: u.qr };
          this.ports.emit({ type: 'pairing', agentId: this.id, pairingCode: null });
        }
        if (this.pairingCodes === MAX_PAIRING_CODES) {
          this.pairingCodes++;
          this.log.warn(`WhatsApp agent ${this.id}: ${MAX_PAIRING_CODES} pairing codes went unused; no more are requested (each one notifies the phone). Scan the QR, or restart the agent for a new code`);
        } else if (this.pairingCodes < MAX_PAIRING_CODES) {
          this.pairingCodes++;
          const code = await sock.requestPairingCode(phone.replace(/\D/g, ''));
          this.pairing = { ...this.pairing, code };
          this.ports.emit({ type: 'pairing', agentId: this.id, pairingCode: code });
          this.log.warn(`WhatsApp agent ${this.id} pairing code: ${code} (WhatsApp > Linked devices > Link with phone number)`);
        }
      }
    }
    if (u.isNewLogin) this.newLogin = true;
    if (u.connection === 'open') {
      this.open = true;
      this.backoff.opened();
      this.lastClose = undefined;
      const paired = this.newLogin || this.justPaired || Boolean(this.pairing);
      this.pairing = undefined;
      this.newLogin = false;
      this.justPaired = false;
      this.ports.setSender((jid, content: AnyMessageContent, options) => sock.sendMessage(jid, content, options));
      this.ports.emit({ type: 'connection', agentId: this.id, state: 'open', detail: sock.user ? `+${jidUser(sock.user.id)}` : undefined });
      if (paired) this.ports.emit({ type: 'pairing', agentId: this.id, paired: true });
      this.log.info(`WhatsApp connected${sock.user ? ` as +${jidUser(sock.user.id)}` : ''}`);
    }
    if (u.connection === 'close') await this.onClose(u.lastDisconnect?.error);
  }

  private async onClose(error: unknown): Promise<void> {
    const info = classifyDisconnect(error);
    this.open = false;
    this.backoff.cancel();
    this.sock = undefined;
    this.ports.setSender(undefined);
    this.lastClose = { ...info, at: isoNow(this.clock) };
    this.ports.emit({ type: 'connection', agentId: this.id, state: 'closed', detail: info.reason });
    if (!this.running || this.halted) return;
    if (info.kind === 'transient') {
      if (info.code === 515 && this.newLogin) {
        // Expected right after pairing: reconnect at once with the same (just registered) creds, quietly.
        this.newLogin = false;
        this.justPaired = true;
        this.log.debug('restart required after pairing; reconnecting');
        return this.reconnect(0);
      }
      const delay = this.backoff.next();
      this.log.warn(`WhatsApp disconnected: ${info.reason}; reconnecting in ${delay} ms`);
      return this.reconnect(delay);
    }
    if (info.kind === 'replaced') {
      this.halt({ needsHuman: true, detail: `stopped: ${info.reason} — another WhatsApp session took over this number; close it, then restart this agent` });
      return;
    }
    // The session is dead: forget it (now, and again before the next connection if the store fails now).
    this.resetSession = true;
    if (info.kind === 'logged_out') {
      this.halt({ needsHuman: true, detail: `needs pairing: ${info.reason}; the stored session was cleared — restart the agent (dashboard, or POST /api/agents/${this.id}/restart) and scan the new QR` });
      await this.discardSession();
      return;
    }
    // Bad session or mismatch: pair again at once the first time; if it keeps happening, with backoff (no tight loop).
    const delay = this.backoff.nextFirstFree();
    this.log.warn(`WhatsApp ${info.reason}: session keys reset; pair the number again${delay ? ` (in ${delay} ms)` : ''}`);
    this.pairing = {};
    this.reconnect(delay);
  }

  /** Baileys' `getMessage`: our sent messages from the store (retries and polls need them). */
  private async getMessage(key: WAMessageKey): Promise<proto.IMessage | undefined> {
    if (!key.id) return undefined;
    const stored = await this.ports.state.messages.get(key.id, key.fromMe ?? true);
    return stored ? (deserialise<WAMessage>(stored.message).message ?? undefined) : undefined;
  }

  private touch(): void {
    this.lastActivity = this.clock.now();
  }

  private clearTimers(): void {
    if (this.reconnectTimer) this.clock.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.backoff.cancel();
  }
}
