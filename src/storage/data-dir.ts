import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, statSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CodedError, ErrorCode } from '../core/errors.js';

/** DATA_DIR and every folder in it: owner only. */
export const PRIVATE_DIR_MODE = 0o700;
/** Every file in DATA_DIR: owner read/write only. */
export const PRIVATE_FILE_MODE = 0o600;

/** One entry of DATA_DIR that other users of the machine can reach. */
export interface OpenEntry {
  path: string;
  kind: 'dir' | 'file';
  /** Its permission bits, e.g. 0o644. */
  mode: number;
}

const octal = (mode: number) => `0${(mode & 0o777).toString(8)}`;
const quote = (path: string) => `'${path.replace(/'/g, `'\\''`)}'`;

/**
 * Entries of `dir` (itself included, recursively) whose mode gives the group or
 * others any access. Modes mean nothing on Windows: there it finds none.
 */
export function findOpenEntries(dir: string): OpenEntry[] {
  if (process.platform === 'win32') return [];
  const found: OpenEntry[] = [];
  const walk = (path: string, depth: number) => {
    const stat = statSync(path, { throwIfNoEntry: false });
    if (!stat) return; // removed while we looked
    const kind = stat.isDirectory() ? 'dir' : 'file';
    if ((stat.mode & 0o077) !== 0) found.push({ path, kind, mode: stat.mode & 0o777 });
    if (kind === 'dir' && depth < 4) for (const name of readdirSync(path)) walk(join(path, name), depth + 1);
  };
  walk(dir, 0);
  return found;
}

/** The message printed when DATA_DIR is too open: what, why it matters, the commands that fix it, and the option. */
export function openDataDirMessage(dir: string, open: OpenEntry[]): string {
  const dirs = open.filter((e) => e.kind === 'dir').map((e) => quote(e.path));
  const files = open.filter((e) => e.kind === 'file').map((e) => quote(e.path));
  return [
    `The data dir ${dir} can be read by other users of this machine:`,
    ...open.map((e) => `  - ${e.path} is mode ${octal(e.mode)} (expected ${e.kind === 'dir' ? '0700' : '0600'})`),
    'It holds the database (with the dashboard session-signing key and the API token hashes), the admin token and the audit key.',
    'Fix it with:',
    ...(dirs.length > 0 ? [`  chmod 700 ${dirs.join(' ')}`] : []),
    ...(files.length > 0 ? [`  chmod 600 ${files.join(' ')}`] : []),
    'or set ALLOW_INSECURE_DATA_DIR=true to start anyway (not recommended).',
  ].join('\n');
}

export interface PrivateDataDirOptions {
  /** ALLOW_INSECURE_DATA_DIR: start although the dir is open; `onInsecure` hears what is open. */
  allowInsecure?: boolean;
  onInsecure?: (message: string, open: OpenEntry[]) => void;
}

/**
 * Creates DATA_DIR mode 0700 if missing, and refuses (config_invalid, with the
 * chmod commands) when it or anything in it is open to the group or others:
 * a local user who copies the database can read the dashboard's session key
 * and forge an operator session.
 */
export function preparePrivateDataDir(dataDir: string, options: PrivateDataDirOptions = {}): string {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const open = findOpenEntries(dir);
  if (open.length > 0) {
    const message = openDataDirMessage(dir, open);
    if (!options.allowInsecure) throw new CodedError(ErrorCode.Config, message, { dataDir: dir, open });
    options.onInsecure?.(message, open);
  }
  return dir;
}

/** Creates `path` empty with mode 0600 if it does not exist (an existing file keeps its content and mode). */
export function ensurePrivateFile(path: string): void {
  closeSync(openSync(path, 'a', PRIVATE_FILE_MODE));
}

/**
 * Writes `content` to `path` atomically (a 0600 temp file, fsynced, renamed over
 * it), so a reader sees the old or the new content, never half, and the file is
 * never readable by others even for a moment.
 */
export function writePrivateFile(path: string, content: string): void {
  const temp = `${path}.${process.pid}.tmp`;
  const fd = openSync(temp, 'w', PRIVATE_FILE_MODE);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
}
