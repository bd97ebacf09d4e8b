import { spawn, type ChildProcess } from 'node:child_process';

export interface Spawned {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /**
   * Resolves with the API URL once the banner is printed; rejects (with its
   * stderr) if the process ends before that. Made when read, so a test that
   * expects the process to fail and never reads it leaves no rejection behind.
   */
  readonly ready: Promise<string>;
  exited: Promise<number | null>;
}

/** Runs `src/main.ts` as a real process (as `npm start` does, without the build step). */
export function spawnCoordinator(env: Record<string, string>, cwd = process.cwd()): Spawned {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let url: string | undefined;
  let closed: { code: number | null } | undefined;
  const waiting: Array<{ resolve: (url: string) => void; reject: (error: Error) => void }> = [];
  const failure = () => new Error(`coordinator exited with ${closed?.code} before it was ready:\n${err}`);
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
    const m = url ? null : /API:\s+(http:\/\/\S+)/.exec(out);
    if (!m) return;
    url = m[1];
    for (const w of waiting.splice(0)) w.resolve(m[1]);
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // 'close' comes after the last output: a banner printed just before a crash still counts.
  child.on('close', (code) => {
    closed = { code };
    if (!url) for (const w of waiting.splice(0)) w.reject(failure());
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    get ready() {
      if (url) return Promise.resolve(url);
      if (closed) return Promise.reject(failure());
      return new Promise<string>((resolve, reject) => waiting.push({ resolve, reject }));
    },
    exited,
  };
}
