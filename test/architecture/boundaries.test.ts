import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { BUILTIN_CHANNELS } from '../../src/bots/channels.js';

/**
 * The folder boundaries of ARCHITECTURE.md, checked on the source: what each
 * module may load. Type-only imports are erased at build time and do not
 * count; a dynamic `import()` is where a channel loads its SDK on demand, so
 * it is not followed (loading the module does not load the SDK).
 */
const ROOT = resolve(import.meta.dirname, '../..');
const SRC = join(ROOT, 'src');
const SDKS = ['@slack/bolt', '@slack/web-api', 'grammy', '@grammyjs/', '@whiskeysockets/baileys'];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'public' ? [] : sourceFiles(path);
    return e.name.endsWith('.ts') ? [path] : [];
  });
}

/** The modules a file loads when it is loaded: static value imports and re-exports. */
function staticImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs: string[] = [];
  for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?([^'";]*?\sfrom\s+)?['"]([^'"]+)['"]/gm)) {
    if (m[2]) continue; // `import type` / `export type`
    specs.push(m[4]!);
  }
  return specs;
}

const files = sourceFiles(SRC);
const graph = new Map(files.map((f) => [f, staticImports(f)]));
const resolveSpec = (from: string, spec: string) => (spec.startsWith('.') ? resolve(dirname(from), spec).replace(/\.js$/, '.ts') : spec);

/** Every module (files and packages) loaded, directly or not, by loading `file`. */
function reach(file: string): Set<string> {
  const seen = new Set<string>();
  const stack = [file];
  while (stack.length > 0) {
    const current = stack.pop()!;
    for (const spec of graph.get(current) ?? []) {
      const target = resolveSpec(current, spec);
      if (seen.has(target)) continue;
      seen.add(target);
      if (graph.has(target)) stack.push(target);
    }
  }
  return seen;
}

const inFolder = (folder: string) => files.filter((f) => f.startsWith(join(SRC, folder) + '/'));
const rel = (f: string) => relative(ROOT, f);

describe('module boundaries', () => {
  it.each(['coordination', 'conversations', 'storage'])('src/%s loads no chat SDK and no dashboard', (folder) => {
    const offences: string[] = [];
    for (const file of inFolder(folder)) {
      for (const target of reach(file)) {
        if (SDKS.some((sdk) => target === sdk || target.startsWith(sdk.endsWith('/') ? sdk : `${sdk}/`))) offences.push(`${rel(file)} → ${target}`);
        if (target.startsWith(join(SRC, 'dashboard') + '/')) offences.push(`${rel(file)} → ${rel(target)}`);
        if (target.startsWith(join(SRC, 'app') + '/')) offences.push(`${rel(file)} → ${rel(target)} (the composition root)`);
      }
    }
    expect(offences).toEqual([]);
  });

  it('src/mcp reaches the coordinator only through the REST client: no engine, store, channel, dashboard or composition root', () => {
    const inside = ['coordination', 'storage', 'bots', 'branches', 'conversations', 'dashboard', 'app'].map((f) => join(SRC, f) + '/');
    const offences = inFolder('mcp').flatMap((file) => [...reach(file)].filter((t) => inside.some((d) => t.startsWith(d)) || SDKS.some((sdk) => t.startsWith(sdk))).map((t) => `${rel(file)} → ${t.startsWith(ROOT) ? rel(t) : t}`));
    expect(inFolder('mcp').length).toBeGreaterThan(0);
    expect(offences).toEqual([]);
  });

  it('the composition root lives in src/app, and nothing but the entry points imports it', () => {
    expect(files).toContain(join(SRC, 'app', 'create-coordinator.ts'));
    const importers = files.filter((f) => !f.startsWith(join(SRC, 'app') + '/') && [...(graph.get(f) ?? [])].some((s) => resolveSpec(f, s).startsWith(join(SRC, 'app') + '/')));
    expect(importers.map(rel).sort()).toEqual(['src/boot.ts']);
  });

  it('storage holds no channel-specific collections or records', () => {
    const offences = inFolder('storage').filter((f) => (/whatsapp|baileys|telegram|slack/i.test(readFileSync(f, 'utf8')) || /\bwa_|\bwa[A-Z]/.test(readFileSync(f, 'utf8')))).map(rel);
    expect(offences).toEqual([]);
  });

  it('no file outside a channel folder names a channel (the registry in src/bots/channels.ts is the one list)', () => {
    const names = BUILTIN_CHANNELS.names();
    const folders = names.map((n) => join(SRC, 'bots', n) + '/');
    const literal = new RegExp(`['"\`](${names.map((n) => n.replace(/-/g, '\\-')).join('|')})['"\`]`);
    const offences = files
      .filter((f) => !folders.some((d) => f.startsWith(d)))
      .flatMap((f) =>
        readFileSync(f, 'utf8')
          .split('\n')
          .map((line, i) => ({ line: line.replace(/\/\/.*$|^\s*\*.*$|\/\*.*?(\*\/|$)/g, ''), at: `${rel(f)}:${i + 1}` }))
          .filter(({ line }) => literal.test(line))
          .map(({ at, line }) => `${at}: ${line.trim()}`),
      );
    expect(offences).toEqual([]);
  });

  it('a channel factory module loads no SDK (its bot is imported when an agent of it is created)', () => {
    for (const factory of BUILTIN_CHANNELS.list()) {
      const file = join(SRC, 'bots', factory.channel, `${factory.channel}-channel.ts`);
      const loaded = [...reach(file)].filter((t) => SDKS.some((sdk) => t.startsWith(sdk)));
      expect({ channel: factory.channel, loaded }).toEqual({ channel: factory.channel, loaded: [] });
    }
  });
});
