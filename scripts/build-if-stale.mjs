// `npm start` and `npm run runner`: compiles the TypeScript into dist/ only when
// something it is built from changed since the last build (a fingerprint of every
// input's path, size and mtime is kept in dist/.build-stamp), so a start with
// nothing changed costs milliseconds instead of a 15-second rebuild, and a
// build that does run says so. Plain JavaScript: it runs before anything is built.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stampFile = join(root, 'dist', '.build-stamp');
// packages/client/src: the MCP tools (src/mcp) are built from the client package's sources too.
const INPUT_DIRS = ['src', 'scripts', 'packages/client/src'];
const INPUT_FILES = ['tsconfig.json', 'tsconfig.build.json', 'package.json', 'package-lock.json'];

function* files(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else if (entry.isFile() && /\.(ts|mts|cts|json)$/.test(entry.name)) yield path;
  }
}

function fingerprint() {
  const hash = createHash('sha256');
  const inputs = [...INPUT_DIRS.flatMap((d) => [...files(join(root, d))]), ...INPUT_FILES.map((f) => join(root, f)).filter((f) => existsSync(f))].sort();
  for (const path of inputs) {
    const s = statSync(path);
    hash.update(`${relative(root, path)}\0${s.size}\0${s.mtimeMs}\n`);
  }
  return hash.digest('hex');
}

const now = fingerprint();
const built = existsSync(stampFile) ? readFileSync(stampFile, 'utf8').trim() : '';
if (built === now && existsSync(join(root, 'dist', 'src', 'main.js'))) process.exit(0);

const why = built ? 'the sources changed since the last build' : 'first build';
console.error(`Building the TypeScript into dist/ (${why}; takes 10-20 s)...`);
const started = Date.now();
const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (tsc.status !== 0) {
  console.error('The build failed (above); nothing was started.');
  process.exit(tsc.status ?? 1);
}
writeFileSync(stampFile, `${now}\n`);
console.error(`Built in ${((Date.now() - started) / 1000).toFixed(1)} s.`);
