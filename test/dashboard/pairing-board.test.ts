import { describe, expect, it } from '@jest/globals';
import { PairingBoard } from '../../src/dashboard/pairing-board.js';

const QR1 = '2@first,abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH=,noise,adv';
const QR2 = '2@second,abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH=,noise,adv';

describe('PairingBoard (what the dashboard shows of WhatsApp pairings)', () => {
  it('keeps the latest QR and the latest code, which WhatsApp sends as separate events', () => {
    const board = new PairingBoard();
    const first = board.update({ agentId: 'wa', qr: QR1, at: '2026-01-01T10:00:00.000Z' });
    expect(first).toMatchObject({ agentId: 'wa', qrImage: expect.stringMatching(/^data:image\/svg\+xml;base64,/) });
    expect(first).not.toHaveProperty('pairingCode');
    const withCode = board.update({ agentId: 'wa', pairingCode: 'K7QM2XPL', at: '2026-01-01T10:00:01.000Z' });
    expect(withCode).toMatchObject({ qrImage: (first as { qrImage: string }).qrImage, pairingCode: 'K7QM2XPL' });
    const refreshed = board.update({ agentId: 'wa', qr: QR2, at: '2026-01-01T10:00:20.000Z' }) as { qrImage: string; pairingCode: string };
    expect(refreshed.qrImage).not.toBe((first as { qrImage: string }).qrImage);
    expect(refreshed.pairingCode).toBe('K7QM2XPL');
    expect(board.list()).toEqual([refreshed]);
    // The agent stopped requesting codes: the old one is withdrawn, the QR stays.
    const withdrawn = board.update({ agentId: 'wa', pairingCode: null, at: '2026-01-01T10:03:00.000Z' });
    expect(withdrawn).toMatchObject({ qrImage: refreshed.qrImage });
    expect(withdrawn).not.toHaveProperty('pairingCode');
  });

  it('drops a pairing once paired or ended, but not one that started after the restart that ended it', () => {
    const board = new PairingBoard();
    board.update({ agentId: 'wa', qr: QR1, at: '2026-01-01T10:00:00.000Z' });
    board.update({ agentId: 'other', qr: QR1, at: '2026-01-01T10:00:00.000Z' });
    expect(board.update({ agentId: 'wa', paired: true, at: '2026-01-01T10:01:00.000Z' })).toEqual({ agentId: 'wa', paired: true });
    expect(board.list().map((p) => p.agentId)).toEqual(['other']);
    // A restart seen (in the audit log) after the new connection's QR arrived leaves that QR alone.
    board.update({ agentId: 'other', qr: QR2, at: '2026-01-01T10:02:05.000Z' });
    expect(board.end('other', 'ended', '2026-01-01T10:02:00.000Z')).toBeNull();
    expect(board.end('other', 'ended', '2026-01-01T10:03:00.000Z')).toEqual({ agentId: 'other', ended: true });
    expect(board.list()).toEqual([]);
    expect(board.end('other', 'ended')).toBeNull();
  });
});
