import { afterEach, describe, expect, it } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfigFile } from '../../src/config/config-file.js';
import { faqPatternProblem, MAX_PROGRAM_SIZE } from '../../src/config/faq-pattern.js';
import { Responder } from '../../src/conversations/responder.js';
import { ConfigError } from '../../src/core/errors.js';
import { tempDir } from '../helpers/temp-dir.js';

const dirs: Array<{ cleanup(): void }> = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.cleanup();
});

/** Loads a one-branch config whose responder has these FAQ rules (YAML flow list). */
function load(faq: string) {
  const dir = tempDir();
  dirs.push(dir);
  const path = join(dir.path, 'c.yaml');
  writeFileSync(path, `branches:\n  - id: b\n    name: B\n    agents: [{ id: b-tg, channel: telegram, token: t }]\n    responder:\n      faq: ${faq}\n`);
  return () => loadConfigFile(path, {});
}

const NOW = new Date('2026-03-02T10:00:00Z');
const ask = (responder: Responder, text: string) => responder.decide({ text, optedOut: false, state: 'bot', afterHoursSent: false, now: NOW });

/** Patterns a backtracking engine takes seconds (or forever) on, each with a text built to make it backtrack, and whether it matches. */
const CATASTROPHIC: Array<[string, string, 'faq' | 'handoff']> = [
  ['(a+)+$', `${'a'.repeat(4096)}!`, 'handoff'],
  ['(a|aa)*b', 'a'.repeat(4096), 'handoff'],
  ['^(\\w+\\s?)*$', `${'ab '.repeat(1365)}!`, 'handoff'],
  ['^(?:a?){30}a{30}$', 'a'.repeat(30), 'faq'],
  ['(x+x+)+y', 'x'.repeat(4096), 'handoff'],
  ['.*a.*b.*c.*d', 'a'.repeat(4096), 'handoff'],
];

describe('FAQ patterns run on RE2 (linear time)', () => {
  it.each(CATASTROPHIC)('%s is accepted at config load and answers a 4 KB hostile message in milliseconds', (pattern, text, kind) => {
    const loaded = load(`[{ id: slow, patterns: [${JSON.stringify(pattern)}], answer: matched }, { id: other, keywords: [zzz], answer: other }]`)();
    const responder = new Responder(loaded.config.branches[0]!, { branch: 'B' } as never);
    const started = performance.now();
    const outcome = ask(responder, text);
    const took = performance.now() - started;
    // A guard, not a benchmark: a backtracking engine takes seconds to forever here.
    expect(took).toBeLessThan(200);
    expect(outcome.kind).toBe(kind);
  });

  it('ordinary patterns still answer, ignoring case and accents', () => {
    const loaded = load('[{ id: hours, patterns: ["que horas (abre|fecha)", "horário"], answer: "9-18" }, { id: usd, patterns: ["d[oó]lar(es)?\\\\s+hoje", "^\\\\s*(oi|ola)\\\\s*$"], answer: usd }]')();
    const responder = new Responder(loaded.config.branches[0]!, { branch: 'B' } as never);
    expect(ask(responder, 'Que horas ABRE amanhã?')).toMatchObject({ kind: 'faq', ruleId: 'hours' });
    expect(ask(responder, 'Qual o HORARIO?')).toMatchObject({ kind: 'faq', ruleId: 'hours' });
    expect(ask(responder, 'DÓLARES hoje')).toMatchObject({ kind: 'faq', ruleId: 'usd' });
    expect(ask(responder, '  Olá  ')).toMatchObject({ kind: 'faq', ruleId: 'usd' });
    expect(ask(responder, 'quero falar de outra coisa')).toMatchObject({ kind: 'handoff', reason: 'no_answer' });
  });

  it('a lookahead is refused at config load, naming the pattern by its path and what RE2 lacks', () => {
    const run = load('[{ id: ok, keywords: [ok], answer: x }, { id: pix, patterns: ["taxa", "(?=.*pix)(?=.*taxa)"], answer: x }]');
    expect(run).toThrow(ConfigError);
    expect(run).toThrow(/branches\[0\]\.responder\.faq\[1\]\.patterns\[1\].*FAQ rule 'pix': a lookahead \(\?=…\) \/ \(\?!…\) is not supported: FAQ patterns run on RE2/s);
  });

  it.each([
    ['(?!spam)oferta', 'a lookahead'],
    ['(?<=r\\$)\\d+', 'a lookbehind'],
    ['(?<!não )quero', 'a lookbehind'],
    ['(oi)\\1', 'a backreference'],
    ['(?<w>oi)\\k<w>', 'a backreference'],
    ['(?>a+)b', 'an atomic group'],
    ['a++b', 'a possessive or repeated quantifier'],
    ['\\u00e9', 'the \\uXXXX escape'],
    ['(abre', 'invalid regular expression (RE2 syntax): missing closing )'],
    ['[\\p{L}\\p{N}]{1,1000}x', 'pattern too large'],
  ])('%s: %s', (pattern, problem) => {
    expect(faqPatternProblem(pattern)).toContain(problem);
  });

  it('the program size cap refuses only unusually large patterns', () => {
    expect(faqPatternProblem('[a-z]{1,400}')).toMatch(new RegExp(`at most ${MAX_PROGRAM_SIZE}`));
    for (const fine of ['que\\s+horas\\s+(abre|fecha)', '\\d{1,3}[.,]\\d{2}', '[0-9]+ ?(reais|euros?)', '^(oi|ola|bom dia|boa tarde)[!. ]*$', '.*euro.*hoje', '(?i)pix', '\\bpix\\b', '\\p{L}{2,30}']) {
      expect([fine, faqPatternProblem(fine)]).toEqual([fine, null]);
    }
  });
});
