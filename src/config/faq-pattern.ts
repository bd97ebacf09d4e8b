import { RE2JS, RE2JSException, RE2JSSyntaxException } from 're2js';
import { stripAccents } from '../core/accents.js';

/**
 * FAQ patterns run on every customer message, and customer text is hostile
 * input: they are compiled for RE2 (`re2js`, a pure-JS port), whose matching
 * time is linear in the text by construction — no pattern can backtrack
 * catastrophically, so none has to be guessed safe or unsafe. RE2 has no
 * lookarounds, backreferences, atomic groups or possessive quantifiers; a
 * pattern that uses one is a configuration error saying which
 * (`faqPatternProblem`), at start-up and on every config change.
 *
 * Matching is case-insensitive and ignores accents: the pattern's accents are
 * dropped like the customer text's, so `horário` matches "HORARIO".
 *
 * @example compileFaqPattern('que horas (abre|fecha)').test('que horas abre?') // true
 */
export type FaqPattern = Pick<RE2JS, 'test'>;

/**
 * Linear time is linear in the text times the program's size: a pattern like
 * `[\p{L}\p{N}]{1,1000}` compiles to 2,000 instructions and takes a third of a
 * second on a 4 KB message. Ordinary FAQ patterns stay under 100.
 */
export const MAX_PROGRAM_SIZE = 500;

/** Compiles a pattern exactly as the responder runs it. Throws the engine's error for a pattern `faqPatternProblem` refuses. */
export function compileFaqPattern(pattern: string): FaqPattern {
  return RE2JS.compile(stripAccents(pattern), RE2JS.CASE_INSENSITIVE);
}

/** What RE2 does not have, recognised from the parser's error and the fragment it stopped at. */
const UNSUPPORTED: Array<{ test: (error: string, fragment: string) => boolean; what: string; instead: string }> = [
  { test: (_e, f) => f.startsWith('(?=') || f.startsWith('(?!'), what: 'a lookahead (?=…) / (?!…)', instead: 'match the words with separate rules or keywords' },
  { test: (_e, f) => f.startsWith('(?<=') || f.startsWith('(?<!'), what: 'a lookbehind (?<=…) / (?<!…)', instead: 'match the words with separate rules or keywords' },
  { test: (_e, f) => /^\\[1-9]/.test(f) || f.startsWith('\\k'), what: 'a backreference (\\1, \\k<name>)', instead: 'spell out what you expect to repeat' },
  { test: (_e, f) => f.startsWith('(?>'), what: 'an atomic group (?>…)', instead: 'use a plain group (?:…): RE2 never backtracks anyway' },
  { test: (e) => e === 'invalid nested repetition operator', what: 'a possessive or repeated quantifier (a++, a*+, a{2}{3})', instead: 'use a single quantifier: RE2 never backtracks anyway' },
  { test: (_e, f) => f.startsWith('\\u'), what: 'the \\uXXXX escape', instead: 'write the character itself, or \\x{00e9}' },
];

/**
 * Why the responder cannot use this pattern, in words for the config file's
 * author, or null when it compiles. Names the RE2 feature that is missing
 * (lookarounds, backreferences…) rather than only the parser's message.
 */
export function faqPatternProblem(pattern: string): string | null {
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(stripAccents(pattern), RE2JS.CASE_INSENSITIVE);
  } catch (error) {
    if (error instanceof RE2JSSyntaxException) {
      const fragment = error.input ?? '';
      const known = UNSUPPORTED.find((u) => u.test(error.error, fragment));
      if (known) return `${known.what} is not supported: FAQ patterns run on RE2, a linear-time engine without lookarounds or backreferences; ${known.instead}`;
      return `invalid regular expression (RE2 syntax): ${error.error}${fragment ? ` at \`${fragment}\`` : ''}`;
    }
    if (error instanceof RE2JSException) return `invalid regular expression (RE2): ${error.message}`;
    throw error;
  }
  const size = compiled.programSize();
  if (size > MAX_PROGRAM_SIZE) return `pattern too large: it compiles to ${size} RE2 instructions (at most ${MAX_PROGRAM_SIZE}), which every customer message would pay for; use shorter repetitions or keywords`;
  return null;
}
