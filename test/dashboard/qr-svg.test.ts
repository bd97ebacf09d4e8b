import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { qrMatrix, qrSvgDataUrl } from '../../src/dashboard/qr-svg.js';
import { tempDir } from '../helpers/temp-dir.js';

// A WhatsApp pairing QR is `ref,noiseKey,identityKey,advSecret` (~240 ASCII characters).
const WA_QR = '2@Nq3cPb9V1mZxW8yLk2Jt0hFd5sRa7Qe4Ug6IoNq3cPb9V1mZxW8yLk2Jt0hFd5sRa7Qe4Ug6Io,9c1vYbT2nXzA8wLq3KpR5mJd7sHf0gEu4Ci6Oa=,Zk8xWq2Lm4Vn6Bp0Cr3Ds5Et7Fu9Gv1Hw=,Tj5Ry7Ua9Ib1Oc3Pd6Qe8Rf0Sg2Th4Ui=';

/** Renders the matrix as a PGM image (6 px a module, 4-module quiet zone). */
function pgm(matrix: boolean[][], file: string): void {
  const s = 6;
  const n = (matrix.length + 8) * s;
  const px = Buffer.alloc(n * n, 255);
  matrix.forEach((row, y) => row.forEach((dark, x) => dark && [...Array(s * s).keys()].forEach((k) => (px[((y + 4) * s + Math.floor(k / s)) * n + (x + 4) * s + (k % s)] = 0))));
  writeFileSync(file, Buffer.concat([Buffer.from(`P5 ${n} ${n} 255\n`), px]));
}

describe('QR encoder', () => {
  it('picks the smallest version and draws the three finder patterns', () => {
    expect(qrMatrix('hello').length).toBe(21);
    const m = qrMatrix(WA_QR);
    expect(m.length).toBe(57); // version 10 at level M
    const finder = (x0: number, y0: number) => [0, 1, 2, 3, 4, 5, 6].every((i) => m[y0][x0 + i] && m[y0 + 6][x0 + i] && m[y0 + i][x0] && m[y0 + i][x0 + 6]);
    expect(finder(0, 0) && finder(m.length - 7, 0) && finder(0, m.length - 7)).toBe(true);
    expect(() => qrMatrix('x'.repeat(3000))).toThrow(/too long/);
  });

  it('renders an SVG data URL', () => {
    const url = qrSvgDataUrl(WA_QR);
    const svg = Buffer.from(url.replace('data:image/svg+xml;base64,', ''), 'base64').toString();
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" viewBox="0 0 65 65"/);
  });

  // zbarimg (Debian: apt-get install zbar-tools) decodes it back when it is installed; otherwise a visible skip saying why.
  const zbar = existsSync('/usr/bin/zbarimg');
  const decodes = 'decodes back to the same text with zbarimg';
  (zbar ? it : it.skip)(zbar ? decodes : `SKIPPED: /usr/bin/zbarimg is not installed (apt-get install zbar-tools) — ${decodes}`, () => {
    const dir = tempDir();
    try {
      for (const text of ['hello', WA_QR, 'https://example.com/?q=' + 'z'.repeat(300)]) {
        const file = join(dir.path, 'qr.pgm');
        pgm(qrMatrix(text), file);
        expect(execFileSync('zbarimg', ['-q', '--raw', file], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim()).toBe(text);
      }
    } finally {
      dir.cleanup();
    }
  });
});
