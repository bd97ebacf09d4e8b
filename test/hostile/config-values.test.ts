import { afterAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { loadConfigFile, MAX_CONFIG_BYTES, type LoadedConfig } from '../../src/config/config-file.js';
import { envSchema, readEnv, type Env } from '../../src/config/env.js';
import { compileFaqPattern } from '../../src/config/faq-pattern.js';
import { applyOverrides, mergeOverrides, type Overrides } from '../../src/config/overrides.js';
import { formatPath } from '../../src/config/zod-issues.js';
import { classifyRisk } from '../../src/coordination/approvals/policy.js';
import { ConfigError, ValidationError } from '../../src/core/errors.js';
import { tempDir } from '../helpers/temp-dir.js';
import { hostileValue, NASTY_STRINGS, nastyString } from './arbitraries.js';

/**
 * Config and environment values are input too. For any environment, `readEnv`
 * returns an Env or throws a ConfigError whose issues name the variables; for
 * any file, `loadConfigFile` returns a config or throws a ConfigError whose
 * issues name a path in that file (or the file itself); for any patch,
 * `mergeOverrides` returns overrides or throws a ValidationError. Never
 * another error, and never slowly (each case well under 2 s).
 */
const RUNS = Number(process.env.HOSTILE_RUNS ?? 20);
const FAST_MS = 2000;
/** Jest's limit for a property: generous, as HOSTILE_RUNS=200 runs ten times the cases. */
const PROPERTY_MS = 30_000 + RUNS * 1000;
const ENV_KEYS = Object.keys(envSchema.shape);
const EXAMPLE_TEXT = readFileSync(join(process.cwd(), 'coordinator.example.yaml'), 'utf8');
const EXAMPLE: unknown = parseYaml(EXAMPLE_TEXT);
const EXAMPLE_ENV = { LISBOA_TELEGRAM_TOKEN: '1:a', PORTO_TELEGRAM_TOKEN: '2:b', SLACK_BOT_TOKEN: 'xoxb-1', SLACK_SIGNING_SECRET: 's' };
const PROTOTYPE_KEYS = ['constructor', '__proto__', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', 'toLocaleString'];

const dir = tempDir('hostile-config-');
afterAll(() => dir.cleanup());
let fileNo = 0;

/** Runs `fn`, returning its value or the error it threw, and how long it took. */
function attempt<T>(fn: () => T): { value?: T; error?: unknown; ms: number } {
  const start = performance.now();
  try {
    const value = fn();
    return { value, ms: performance.now() - start };
  } catch (error) {
    return { error, ms: performance.now() - start };
  }
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.constructor.name}: ${error.message.slice(0, 300)}\n${error.stack?.split('\n').slice(1, 6).join('\n')}` : String(error);
}

/** A value built when the property runs, shown by its description: a counterexample must not print a megabyte. */
interface Lazy<T> {
  make(): T;
}
function lazy<T>(description: string, make: () => T): Lazy<T> {
  return { make, [fc.toStringMethod]: () => description } as Lazy<T>;
}

// ---------------------------------------------------------------- environment

/** Values a variable might be given: plausible for some variable, malformed for most, and nasty strings. */
const envValue = fc.oneof(
  { weight: 3, arbitrary: nastyString },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '0', '1', '80', '3000', '65535', '65536', '-1', '1.5', '1e3', '0x10', ' 8080 ', '08080', '1_000', 'Infinity', '-0', '9'.repeat(400),
      'http://127.0.0.1:8081', 'https://slack.com/api/', 'not a url', 'javascript:alert(1)', 'mongodb://db:27017/x', 'mongodb+srv://', 'postgres://x',
      'debug', 'silly', 'LOUD', 'true', 'false', 'yes', 'TRUE', '1mb', '256KB', '10gb', 'loopback', 'loopback,10.0.0.0/8', '10.0.0.0/99', '::1', 'a,,b',
      'x'.repeat(16), 'x'.repeat(32), 'x'.repeat(5000),
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: -10, max: 10_000_000 }).map(String) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }) },
);

/** An environment with any subset of the schema's variables (read from the schema: a variable added later is covered) and extra ones. */
const envArb = fc
  .tuple(
    fc.record(Object.fromEntries(ENV_KEYS.map((k) => [k, fc.option(envValue, { nil: undefined })])) as Record<string, fc.Arbitrary<string | undefined>>, { requiredKeys: [] }),
    fc.dictionary(fc.oneof(fc.constantFrom(...PROTOTYPE_KEYS, 'NODE_OPTIONS', 'PATH', 'port', 'Port', 'PORT ', ''), fc.string({ maxLength: 12 })), envValue, { maxKeys: 4 }),
  )
  .map(([known, extra]) => ({ ...extra, ...known }));

function checkEnv(env: Record<string, string | undefined>): Env | undefined {
  const r = attempt(() => readEnv(env));
  const where = JSON.stringify(env).slice(0, 400);
  expect({ where, slow: r.ms > FAST_MS }).toEqual({ where, slow: false });
  if (r.error === undefined) {
    // Every number read is a real, finite one (TRUST_PROXY=999…9 was Infinity hops: "trust everyone", which is refused as "true").
    const infinite = Object.entries(r.value!).filter(([, v]) => typeof v === 'number' && !Number.isSafeInteger(v)).map(([k]) => k);
    expect({ where, infinite }).toEqual({ where, infinite: [] });
    return r.value;
  }
  expect({ where, error: r.error instanceof ConfigError ? 'ConfigError' : describeError(r.error) }).toEqual({ where, error: 'ConfigError' });
  const issues = (r.error as ConfigError).issues;
  expect(issues.length).toBeGreaterThan(0);
  for (const issue of issues) {
    // Each issue names one variable of the schema, one that was set (an unset one takes its default, which is valid).
    const variable = /^env ([A-Z0-9_]+)$/.exec(issue.path)?.[1];
    expect({ where, path: issue.path, named: variable !== undefined && ENV_KEYS.includes(variable) && env[variable] !== undefined }).toEqual({ where, path: issue.path, named: true });
    expect(typeof issue.message === 'string' && issue.message.length > 0).toBe(true);
  }
  return undefined;
}

describe('hostile config values: the environment', () => {
  it('readEnv: any value for every variable of the schema, plus extra keys: an Env, or a ConfigError whose issues name the variables', () => {
    fc.assert(fc.property(envArb, (env) => void checkEnv(env)), { numRuns: RUNS * 10 });
  }, PROPERTY_MS);

  it('readEnv: each variable alone with every nasty string: an Env or a ConfigError naming exactly that variable', () => {
    for (const key of ENV_KEYS) for (const value of [...NASTY_STRINGS, '9'.repeat(400)]) checkEnv({ [key]: value });
  });
});

// ---------------------------------------------------------------- config file

function writeConfig(content: string | Buffer): string {
  const path = join(dir.path, `coordinator-${++fileNo}.yaml`);
  writeFileSync(path, content);
  return path;
}

/** Every node's path in a parsed tree, formatted as issues format them (`branches[0].agents[1].token`). */
function nodePaths(tree: unknown): Set<string> {
  const out = new Set<string>();
  const stack: Array<{ node: unknown; path: PropertyKey[] }> = [{ node: tree, path: [] }];
  while (stack.length > 0) {
    const { node, path } = stack.pop()!;
    out.add(formatPath(path));
    if (node && typeof node === 'object') for (const [k, v] of Object.entries(node)) stack.push({ node: v, path: [...path, Array.isArray(node) ? Number(k) : k] });
  }
  return out;
}

/** An issue path names the document: a node in it, or a missing child of one (a required field, a defaulted one), or the file itself. */
function namesThePath(issuePath: string, file: string, paths: Set<string> | undefined): boolean {
  if (issuePath.startsWith(file)) return true;
  if (!paths) return false;
  if (paths.has(issuePath)) return true;
  if (!/[.[]/.test(issuePath)) return true; // a missing top-level key (the root always exists)
  const parent = /^(.*)(\.[^.[\]]+|\[\d+\])$/.exec(issuePath)?.[1];
  return parent !== undefined && paths.has(parent);
}

/**
 * The invariant for any config file: a loaded config, or a ConfigError with
 * issues naming paths of the document (or the file), and fast. The parsed
 * tree, when there is one, tells which paths exist.
 */
function checkLoad(content: string | Buffer, env: Record<string, string | undefined> = EXAMPLE_ENV, tree?: unknown): LoadedConfig | undefined {
  const file = writeConfig(content);
  const r = attempt(() => loadConfigFile(file, env));
  const where = `${String(content).slice(0, 300)} (${content.length} chars)`;
  expect({ where, ms: r.ms > FAST_MS ? r.ms : 'fast' }).toEqual({ where, ms: 'fast' });
  if (r.error === undefined) {
    expect(r.value!.exists).toBe(true);
    return r.value;
  }
  expect({ where, error: r.error instanceof ConfigError ? 'ConfigError' : describeError(r.error) }).toEqual({ where, error: 'ConfigError' });
  const issues = (r.error as ConfigError).issues;
  expect({ where, issues: issues.length > 0 }).toEqual({ where, issues: true });
  const paths = tree === undefined ? undefined : nodePaths(tree);
  for (const issue of issues) {
    expect({ where, path: issue.path, named: namesThePath(issue.path, file, paths) || (tree === undefined && typeof issue.path === 'string') }).toEqual({ where, path: issue.path, named: true });
    expect(typeof issue.message === 'string' && issue.message.length > 0).toBe(true);
  }
  return undefined;
}

/** Text that looks like YAML: indicators, anchors and aliases, tags, directives, schema keys, nasty strings. */
const yamlText = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        ': ', ':', '- ', '-', '\n', '\n  ', '\n    ', '  ', '[', ']', '{', '}', ', ', '? ', '"', "'", '|', '>', '#', '---\n', '...\n', '%YAML 1.2\n', '%TAG ! tag:x,2000:\n',
        '&a ', '*a', '&b ', '*b', '<<: ', '!!js/function ', '!!binary ', '!!set ', '!!omap ', '!!timestamp ', '!!int ', '!!float ', '!!str ', '!!null ', '!foo ', '!<tag:x> ',
        'business', 'name', 'branches', 'id', 'agents', 'channel', 'telegram', 'whatsapp', 'slack', 'managers', 'responder', 'faq', 'patterns', 'approvals', 'teams', 'operators',
        '${A}', '${A:-x}', '$${A}', '\ufeff', '\u0000', '\t', '\r\n', '0x1F', '.inf', '-.nan', '~', 'null', 'yes', '1e309', '9007199254740993',
      ),
      nastyString,
      fc.string({ maxLength: 8 }),
    ),
    { maxLength: 60 },
  )
  .map((parts) => parts.join(''));

/** Picks a node of the example by walking it (`steps` choose a key at each level), and puts `value` there or at `newKey` beside it. */
function replaceAt(tree: unknown, steps: number[], value: unknown, newKey?: string): unknown {
  const root = structuredClone(tree) as Record<PropertyKey, unknown>;
  const pick = (node: object, step: number): PropertyKey => {
    const keys = Object.keys(node);
    const key = keys[step % keys.length];
    return Array.isArray(node) ? Number(key) : key;
  };
  let parent = root;
  let key = pick(parent, steps[0]);
  for (const step of steps.slice(1)) {
    const child = parent[key];
    if (!child || typeof child !== 'object' || Object.keys(child).length === 0) break;
    parent = child as Record<PropertyKey, unknown>;
    key = pick(parent, step);
  }
  if (newKey !== undefined && !Array.isArray(parent)) key = newKey;
  Object.defineProperty(parent, key, { value, enumerable: true, writable: true, configurable: true });
  return root;
}

/** A value nested `depth` levels deep. */
function nested(depth: number, arrays: boolean): unknown {
  let v: unknown = 'x';
  for (let i = 0; i < depth; i++) v = arrays && i % 2 ? [v] : { a: v };
  return v;
}

const replacement: fc.Arbitrary<Lazy<unknown>> = fc.oneof(
  { weight: 4, arbitrary: hostileValue.map((v) => lazy(fc.stringify(v).slice(0, 300), () => v)) },
  { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 10, max: 400 }), fc.boolean()).map(([depth, arrays]) => lazy(`nested ${depth} levels${arrays ? ' (arrays and objects)' : ''}`, () => nested(depth, arrays))) },
  { weight: 1, arbitrary: fc.integer({ min: 1000, max: 300_000 }).map((n) => lazy(`'x' x ${n}`, () => 'x'.repeat(n))) },
  { weight: 1, arbitrary: fc.constantFrom('${LISBOA_TELEGRAM_TOKEN}', '${UNSET_VARIABLE}', '${HOSTILE:-}', '${constructor}', '${__proto__:-p}', '$${escaped}', '${', '${}', '${A-B}', '${A:-${B}}').map((v) => lazy(v, () => v)) },
);

/** A document serialised as YAML (block or flow) or as JSON (which is YAML too). */
function serialise(tree: unknown, how: number): string {
  if (how === 0) return JSON.stringify(tree);
  if (how === 1) return JSON.stringify(tree, null, 2);
  return stringifyYaml(tree, { aliasDuplicateObjects: false, lineWidth: 0 });
}

/** "Billion laughs": `levels` anchors, each aliasing the previous one `width` times. */
function aliasBomb(levels: number, width: number, under: string): string {
  const lines = ['a0: &a0 [lol, lol, lol]'];
  for (let i = 1; i <= levels; i++) lines.push(`a${i}: &a${i} [${Array.from({ length: width }, () => `*a${i - 1}`).join(', ')}]`);
  lines.push(`${under}: *a${levels}`);
  return lines.join('\n');
}

const structuralBomb: fc.Arbitrary<Lazy<string>> = fc.oneof(
  fc.tuple(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 12 }), fc.constantFrom('business', 'branches', 'x')).map(([l, w, under]) => lazy(`alias bomb: ${l} levels x ${w} under ${under}`, () => aliasBomb(l, w, under))),
  fc.tuple(fc.integer({ min: 10, max: 20_000 }), fc.constantFrom('[', '{a: ', '- ', 'a:\n')).map(([depth, open]) =>
    lazy(`${depth} levels of ${JSON.stringify(open)}`, () => {
      if (open === '[') return `branches: ${'['.repeat(depth)}${']'.repeat(depth)}`;
      if (open === '{a: ') return `business: ${'{a: '.repeat(depth)}1${'}'.repeat(depth)}`;
      if (open === '- ') return `branches:\n${Array.from({ length: Math.min(depth, 3000) }, (_, i) => `${' '.repeat(i * 2)}- `).join('\n')}x`;
      return `business:\n${Array.from({ length: Math.min(depth, 3000) }, (_, i) => `${' '.repeat(i + 1)}a:`).join('\n')} 1`;
    }),
  ),
  fc.integer({ min: 100_000, max: MAX_CONFIG_BYTES + 200_000 }).map((n) => lazy(`a name of ${n} characters`, () => `business: {name: "${'x'.repeat(n)}"}`)),
  // Wide, not deep: parsing is linear (about 10 µs an item here), so a list stays within what the time bound can tell from a blow-up.
  fc.integer({ min: 1000, max: 8000 }).map((n) => lazy(`${n} branches`, () => `branches: [${Array.from({ length: n }, (_, i) => `{id: b${i}, name: B}`).join(', ')}]`)),
  fc
    .constantFrom(
      'business: {name: a}\nbusiness: {name: b}',
      'branches:\n  - id: a\n    id: b\n    name: x',
      'business: {name: !!js/function "function () { process.exit(1) }"}',
      'business: {name: !!js/undefined ""}',
      'business: !!js/regexp /a/',
      'business: {name: !!binary aGVsbG8=}',
      'business: !!set {a, b}',
      'business: {name: !!timestamp 2001-12-14}',
      'x: &x {name: a}\nbusiness: {<<: *x}',
      'business: *nowhere',
      'business: {__proto__: {name: polluted}}',
      '__proto__: {polluted: true}',
      'constructor: {prototype: {polluted: true}}',
      '? [a, b]\n: 1',
      '\ufeffbusiness: {name: BOM}',
      '\ufeff\ufeffbusiness: {name: BOM}',
      'business: {name: "a\u0000b"}',
      'business:\u0000 {name: a}',
      'a: 1\n---\nb: 2',
      '%YAML 9.9\n---\nbusiness: {name: a}',
      '',
      '\n\n\n',
      '42',
      '"just a string"',
      '[1, 2]',
      '~',
    )
    .map((text) => lazy(JSON.stringify(text), () => text)),
);

describe('hostile config values: the config file', () => {
  it('random YAML-like text: a config or a ConfigError, fast', () => {
    fc.assert(fc.property(yamlText, (text) => void checkLoad(text)), { numRuns: RUNS * 10 });
  }, PROPERTY_MS);

  it('random bytes (invalid UTF-8, NUL, BOMs): a config or a ConfigError, fast', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => void checkLoad(Buffer.from(bytes))), { numRuns: RUNS * 5 });
  }, PROPERTY_MS);

  it('the example with one to three fields replaced by hostile values: a config or a ConfigError naming a path of the document', () => {
    const edit = fc.record({ steps: fc.array(fc.nat(), { minLength: 1, maxLength: 6 }), value: replacement, newKey: fc.option(fc.oneof(fc.constantFrom(...PROTOTYPE_KEYS), fc.string({ maxLength: 8 })), { nil: undefined, freq: 4 }) });
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 3 }), fc.integer({ min: 0, max: 2 }), (edits, how) => {
        let tree = EXAMPLE;
        for (const e of edits) tree = replaceAt(tree, e.steps, e.value.make(), e.newKey);
        checkLoad(serialise(tree, how), EXAMPLE_ENV, tree);
      }),
      { numRuns: RUNS * 5 },
    );
  }, PROPERTY_MS);

  it('${VAR} and ${VAR:-default} references with hostile environment values: substituted once, never from Object.prototype', () => {
    const varName = fc.oneof(fc.constantFrom(...PROTOTYPE_KEYS, 'LISBOA_TELEGRAM_TOKEN', 'A', 'B'), fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,10}$/));
    const reference = fc.tuple(varName, fc.option(fc.oneof(nastyString.filter((s) => !s.includes('}')), fc.constant('')), { nil: undefined })).map(([name, fallback]) => (fallback === undefined ? `\${${name}}` : `\${${name}:-${fallback}}`));
    const env = fc.dictionary(varName, fc.oneof(nastyString, fc.constantFrom('${B}', '$${A}', 'a: b\n- c', '{"x": 1}', '*a', '&a x', 'x'.repeat(5000))), { maxKeys: 5 });
    fc.assert(
      fc.property(fc.array(fc.record({ steps: fc.array(fc.nat(), { minLength: 1, maxLength: 6 }), ref: reference, around: fc.constantFrom('', 'pre-', '-post') }), { minLength: 1, maxLength: 4 }), env, (edits, environment) => {
        let tree = EXAMPLE;
        for (const e of edits) tree = replaceAt(tree, e.steps, `${e.around}${e.ref}${e.around}`);
        const loaded = checkLoad(stringifyYaml(tree, { lineWidth: 0 }), environment, tree);
        // A substituted value is never expanded again, and no reference reads an inherited member (`${constructor}` was "function Object() { [native code] }").
        if (loaded) expect(JSON.stringify(loaded.config)).not.toContain('[native code]');
      }),
      { numRuns: RUNS * 5 },
    );
  }, PROPERTY_MS);

  it('alias bombs, deep nesting, huge strings and lists, duplicate keys, tags, BOMs and NULs: a config or a ConfigError, fast', () => {
    fc.assert(fc.property(structuralBomb, (text) => void checkLoad(text.make())), { numRuns: RUNS * 2 });
  }, PROPERTY_MS);

  it('hostile FAQ patterns (lookarounds, backreferences, nested quantifiers, huge counts): loaded and linear, or refused at the pattern\'s path', () => {
    const fragment = fc.constantFrom(
      '(', ')', '(?=', '(?!', '(?<=', '(?<!', '(?<n>', '\\k<n>', '\\1', '(?>', 'a', 'a+', '+', '*', '?', '{', '}', '{99999}', '{1,1000}', '{2}', '{0,}', '[', ']', '[^',
      '\\', '\\u00e9', '\\x{110000}', '\\p{L}', '\\PN', '(?i)', '(?P<n>', '|', '^', '$', '\\b', '\\Q', '\\E', '.', '\ud800', '\u0000', 'é', '\\C', '\\z', '(?:', '[[:alpha:]]', '\\8', '++', '*+',
    );
    const pattern = fc.oneof(
      fc.constantFrom('(?=a)b', '(?!a)b', '(?<=a)b', '(?<!a)b', '(a)\\1', '(?<x>a)\\k<x>', '(a+)+$', '(a|aa)*$', '(.*a){20}', 'a{99999}', '(a{1000}){1000}', '[\\p{L}\\p{N}]{1,1000}', '(?>a+)', 'a++', 'x'.repeat(500), '('.repeat(250) + ')'.repeat(250)),
      fc.array(fc.oneof(fragment, fc.string({ maxLength: 3 })), { minLength: 1, maxLength: 12 }).map((parts) => parts.join('')),
    );
    const customer = `${'a'.repeat(4000)}!${'é'.repeat(90)}`;
    fc.assert(
      fc.property(fc.array(pattern, { minLength: 1, maxLength: 3 }), (patterns) => {
        const tree = structuredClone(EXAMPLE) as { branches: Array<{ responder: { faq: Array<{ patterns?: string[] }> } }> };
        tree.branches[0].responder.faq[0].patterns = patterns;
        const text = stringifyYaml(tree, { lineWidth: 0 });
        const file = writeConfig(text);
        const r = attempt(() => loadConfigFile(file, EXAMPLE_ENV));
        const where = JSON.stringify(patterns);
        expect({ where, ms: r.ms > FAST_MS ? r.ms : 'fast' }).toEqual({ where, ms: 'fast' });
        if (r.error === undefined) {
          // What loads runs on customer text in linear time.
          for (const p of r.value!.config.branches[0].responder.faq[0].patterns) {
            const start = performance.now();
            compileFaqPattern(p).test(customer);
            expect({ p, slow: performance.now() - start > FAST_MS }).toEqual({ p, slow: false });
          }
          return;
        }
        expect({ where, error: r.error instanceof ConfigError ? 'ConfigError' : describeError(r.error) }).toEqual({ where, error: 'ConfigError' });
        for (const issue of (r.error as ConfigError).issues) expect({ where, path: issue.path }).toEqual({ where, path: expect.stringMatching(/^branches\[0\]\.responder\.faq\[0\]\.patterns(\[\d\])?$/) });
        patterns.forEach((p, i) => {
          const issue = (r.error as ConfigError).issues.find((x) => x.path === `branches[0].responder.faq[0].patterns[${i}]`);
          if (/^\(\?<?[=!]/.test(p)) expect({ p, message: issue?.message }).toEqual({ p, message: expect.stringMatching(/look(ahead|behind)/) });
          if (/^\(a\)\\1$/.test(p)) expect({ p, message: issue?.message }).toEqual({ p, message: expect.stringMatching(/backreference/) });
        });
      }),
      { numRuns: RUNS * 5 },
    );
  }, PROPERTY_MS);

  // Regressions found by the properties above (each failed before the fix in config-file.ts / substitute-vars.ts).
  it('an alias bomb is a ConfigError naming the file (was: ReferenceError "Excessive alias count" thrown by the yaml package)', () => {
    const file = writeConfig(aliasBomb(9, 9, 'business'));
    expect(() => loadConfigFile(file, {})).toThrow(ConfigError);
    expect(attempt(() => loadConfigFile(file, {})).error).toMatchObject({ issues: [{ path: file, message: expect.stringMatching(/alias bomb/) }] });
  });

  it('an alias without its anchor is a ConfigError (was: ReferenceError "Unresolved alias")', () => {
    const file = writeConfig('business: *nowhere');
    expect(attempt(() => loadConfigFile(file, {})).error).toMatchObject({ issues: [{ path: file, message: expect.stringMatching(/Unresolved alias/) }] });
  });

  it('nesting deeper than the schema could use is refused with its path before substitution walks it', () => {
    let v: unknown = 'x';
    for (let i = 0; i < 100; i++) v = { a: v };
    const file = writeConfig(JSON.stringify({ business: v }));
    const error = attempt(() => loadConfigFile(file, {})).error as ConfigError;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.issues).toEqual([{ path: `business${'.a'.repeat(63)}`, message: expect.stringMatching(/nested deeper than 64 levels/) }]);
  });

  it('a file over 1 MiB, a directory or a device is a ConfigError at once (was: parsed for seconds, or /dev/zero read forever)', () => {
    const big = writeConfig(`business: {name: "${'x'.repeat(MAX_CONFIG_BYTES)}"}`);
    const r = attempt(() => loadConfigFile(big, {}));
    expect(r.ms).toBeLessThan(FAST_MS);
    expect(r.error).toMatchObject({ issues: [{ path: big, message: expect.stringMatching(/at most 1048576/) }] });
    for (const path of [dir.path, '/dev/zero', '/dev/null']) {
      expect(attempt(() => loadConfigFile(path, {})).error).toMatchObject({ issues: [{ path, message: expect.stringMatching(/not a regular file/) }] });
    }
  });

  it('${constructor}, ${__proto__} and ${toString} read only the environment\'s own values (was: "function Object() { [native code] }")', () => {
    const file = writeConfig('business: {name: "${constructor}${__proto__}"}\nbranches: [{id: b, name: "${toString:-fallback}", address: "${hasOwnProperty}"}]');
    expect(attempt(() => loadConfigFile(file, {})).error).toMatchObject({
      issues: [
        { path: 'business.name', message: expect.stringMatching(/constructor is not set/) },
        { path: 'business.name', message: expect.stringMatching(/__proto__ is not set/) },
        { path: 'branches[0].address', message: expect.stringMatching(/hasOwnProperty is not set/) },
      ],
    });
    const ok = writeConfig('business: {name: "${toString:-fallback}"}');
    expect(loadConfigFile(ok, {}).config.business.name).toBe('fallback');
    expect(loadConfigFile(ok, { toString: 'from env' }).config.business.name).toBe('from env');
  });

  it("the config's maps find only configured keys: an action type or team named 'constructor' is not configured (was: risk = Object, \"Invalid time value\" 500)", () => {
    const loaded = loadConfigFile(writeConfig('approvals: {riskByAction: {crm.update: low}, teams: {night: {autonomy: autonomous}}}\nbranches: [{id: b, name: B, businessHours: {mon: "09:00-18:00"}, responder: {rates: {USD: {buy: 1, sell: 2}}}}]'), {});
    const a = loaded.config.approvals;
    const b = loaded.config.branches[0];
    for (const key of PROTOTYPE_KEYS) {
      for (const map of [a.riskByAction, a.minRole, a.ttlSec, a.escalateAfterSec, a.teams, b.businessHours!, b.responder.rates]) expect({ key, found: (map as Record<string, unknown>)[key] }).toEqual({ key, found: undefined });
    }
    expect(classifyRisk('constructor', loaded.config)).toEqual({ risk: 'high', source: 'default for unknown action types' });
    expect(classifyRisk('crm.update', loaded.config).risk).toBe('low');
    expect(a.teams.night.autonomy).toBe('autonomous');
  });
});

// ---------------------------------------------------------------- runtime overrides

describe('hostile config values: PATCH /config overrides (mergeOverrides, applyOverrides)', () => {
  const loaded = loadConfigFile(join(process.cwd(), 'coordinator.example.yaml'), EXAMPLE_ENV);
  const env = readEnv({});
  const patchArb = fc.oneof(
    hostileValue,
    fc.dictionary(fc.constantFrom('logLevel', 'healthIntervalMs', 'defaults', 'branches', '__proto__', 'constructor'), hostileValue, { maxKeys: 4 }),
    fc.record(
      {
        logLevel: fc.oneof(fc.constantFrom('debug', 'silly', null), nastyString),
        healthIntervalMs: fc.oneof(fc.integer(), fc.double(), fc.constant(null), nastyString),
        defaults: fc.oneof(fc.record({ autonomy: fc.oneof(fc.constantFrom('supervised', 'autonomous', null), nastyString) }), hostileValue),
        branches: fc.dictionary(fc.oneof(fc.constantFrom('lisboa', 'porto', ...PROTOTYPE_KEYS), nastyString), fc.oneof(fc.constant(null), fc.record({ autonomy: fc.constantFrom('autonomous', 'nope', null), businessHours: fc.oneof(hostileValue, fc.record({ mon: fc.constantFrom('09:00-18:00', '25:00-26:00', null) })) }, { requiredKeys: [] }), hostileValue), { maxKeys: 3 }),
      },
      { requiredKeys: [] },
    ),
  );

  it('any patch on any valid current state: overrides or a ValidationError naming paths; inputs untouched; the result applies', () => {
    fc.assert(
      fc.property(patchArb, patchArb, (first, patch) => {
        let current: Overrides = {};
        try {
          current = mergeOverrides({}, first, loaded.config);
        } catch (error) {
          expect(error).toBeInstanceOf(ValidationError);
        }
        const before = JSON.stringify([current, patch]);
        const r = attempt(() => mergeOverrides(current, patch, loaded.config));
        const where = JSON.stringify(patch)?.slice(0, 300);
        expect({ where, slow: r.ms > FAST_MS }).toEqual({ where, slow: false });
        expect({ where, untouched: JSON.stringify([current, patch]) === before }).toEqual({ where, untouched: true });
        if (r.error !== undefined) {
          expect({ where, error: r.error instanceof ValidationError ? 'ValidationError' : describeError(r.error) }).toEqual({ where, error: 'ValidationError' });
          for (const issue of (r.error as ValidationError).issues) expect(typeof issue.path === 'string' && typeof issue.message === 'string').toBe(true);
          return;
        }
        const applied = applyOverrides(env, loaded.config, r.value!);
        expect(Number.isFinite(applied.env.HEALTH_INTERVAL_MS)).toBe(true);
        expect(applied.config.branches.map((b) => b.id)).toEqual(loaded.config.branches.map((b) => b.id));
        for (const b of applied.config.branches) expect([undefined, 'supervised', 'semi_autonomous', 'autonomous']).toContain(b.autonomy);
      }),
      { numRuns: RUNS * 10 },
    );
  }, PROPERTY_MS);
});
