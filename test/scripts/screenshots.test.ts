import { afterEach, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/temp-dir.js';

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

describe('npm run screenshots', () => {
  it('boots the demo scene, photographs every panel in Chromium and exits 0 (the README shows these)', async () => {
    const dir = tempDir();
    cleanups.push(dir.cleanup);
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/screenshots.ts'], { env: { ...process.env, SCREENSHOT_DIR: dir.path }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect({ code, output: code === 0 ? '' : output }).toEqual({ code: 0, output: '' });
    const shots = readdirSync(dir.path).filter((f) => f.endsWith('.png')).sort();
    expect(shots).toEqual(['activity.png', 'agents.png', 'approvals.png', 'login.png', 'phone.png']);
    for (const shot of shots) expect(readFileSync(join(dir.path, shot)).subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
  }, 120_000);
});
