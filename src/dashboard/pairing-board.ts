import type { DomainEvents } from '../coordination/event-bus.js';
import { qrSvgDataUrl } from './qr-svg.js';

/** A WhatsApp number waiting to be paired, as the page shows it. */
export interface PairingView {
  agentId: string;
  /** The latest QR as an SVG data URL, ready for an `<img>`. */
  qrImage?: string;
  /** The latest pairing code (only when the agent has the branch's phone number). */
  pairingCode?: string;
  at: string;
}

/** Tells the pages to drop an agent's pairing: `paired`, or `ended` without a pairing (the agent came up, or was restarted). */
export interface PairingEnd {
  agentId: string;
  paired?: true;
  ended?: true;
}

/**
 * The pairings in progress, one per agent. Real WhatsApp sends the QR and the
 * pairing code as separate events (and a fresh QR every ~20 s), so each event
 * updates its own part and keeps the other.
 * @example
 * board.update({ agentId: 'wa', qr: '2@…', at });          // QR shown
 * board.update({ agentId: 'wa', pairingCode: 'K7QM2XPL', at }); // QR and code shown
 * board.update({ agentId: 'wa', paired: true, at });        // { agentId: 'wa', paired: true }
 */
export class PairingBoard {
  private readonly views = new Map<string, PairingView>();

  list(): PairingView[] {
    return [...this.views.values()];
  }

  /** Applies a pairing event; returns what the pages should be sent, or null for nothing. */
  update(e: DomainEvents['agent.pairing']): PairingView | PairingEnd | null {
    if (e.paired) return this.end(e.agentId, 'paired') ?? { agentId: e.agentId, paired: true };
    const view: PairingView = { ...this.views.get(e.agentId), agentId: e.agentId, at: e.at };
    if (e.qr) view.qrImage = qrSvgDataUrl(e.qr);
    if (e.pairingCode) view.pairingCode = e.pairingCode;
    else if (e.pairingCode === null) delete view.pairingCode;
    this.views.set(e.agentId, view);
    return view;
  }

  /**
   * Forgets an agent's pairing; with `before`, only one last updated before then
   * (a restart seen late must not drop the new connection's QR).
   * Returns what the pages should be sent, or null if there was nothing to drop.
   */
  end(agentId: string, how: 'paired' | 'ended', before?: string): PairingEnd | null {
    const view = this.views.get(agentId);
    if (!view || (before !== undefined && view.at > before)) return null;
    this.views.delete(agentId);
    return how === 'paired' ? { agentId, paired: true } : { agentId, ended: true };
  }
}
