/**
 * Start-up check of FAQ regexes for catastrophic backtracking. JavaScript
 * regexes backtrack, FAQ patterns run on every customer message on the event
 * loop, and a message may be 4096 characters: `(a+)+$` is exponential,
 * `.*a.*b` cubic (seconds), `(?:a?){25}a{25}` 2^25 — so start-up refuses them.
 *
 * The estimate works on the pattern's structure, with characters in four
 * classes (letters, digits, spaces, the rest):
 * - repetitions in a row multiply the ways to split the text (`*`, `+`, `{n,}`
 *   count 4096, `{m,n}` n-m+1, `?` 2) — unless a required character between
 *   them cannot be taken by the repetition before it (`que\s+horas\s+x`: each
 *   `\s+` ends where the next word starts);
 * - alternatives that can start alike multiply the choices, anywhere later;
 * - a group repeated a variable number of times may not itself repeat or have
 *   alike alternatives (`(a+)+`, `(a|aa)*`); backreferences are refused;
 * - a lookaround runs again at every position the text before it can split at.
 * At most 4096 ways are allowed (one `.*` in a row), 4096² when the pattern
 * starts with `^` and has no top-level `|` (it is tried from one position).
 * Conservative: it may refuse a pattern that is in fact fast, never the
 * other way round for the constructs it knows.
 */

import { stripAccents } from '../core/accents.js';

const L = 1;
const D = 2;
const S = 4;
const P = 8;
const ALL = L | D | S | P;
/** The longest message: an unbounded repetition can try this many lengths. */
const N = 4096;
const cap = (x: number) => Math.min(x, Number.MAX_SAFE_INTEGER);

interface Cost {
  /** Ways to split the text along the worst chain of repetitions. */
  ways: number;
  /** Choices among alike alternatives, multiplied over the whole pattern. */
  choice: number;
  /** Characters it can start with, and can take at all. */
  first: number;
  chars: number;
  /** It always takes at least one character. */
  mandatory: boolean;
  /** It has a variable repetition or alike alternatives (repeating it is exponential). */
  variable: boolean;
  /** Characters an open repetition at its end can still take (0: it ends on a required character). */
  tail: number;
  /** The exact letters it can start with (accent-free, lower case), when known. */
  firstLits: Set<string> | null;
  /** The whole text it matches when it is plain characters only ("que"), else null. */
  lit: string | null;
}

/** How the text compares: accents dropped, lower case (as FAQ patterns run). */
const plain = (c: string) => stripAccents(c).toLowerCase();

/** Alternatives that can match the same text, so a failure later tries each. */
function alike(a: Cost, b: Cost): boolean {
  if (!a.mandatory || !b.mandatory) return true;
  if (a.lit !== null && b.lit !== null) return a.lit.startsWith(b.lit) || b.lit.startsWith(a.lit);
  if (a.firstLits && b.firstLits) return [...a.firstLits].some((c) => b.firstLits!.has(c));
  return (a.first & b.first) !== 0;
}

class Refused extends Error {}

const NESTED = 'a repeated group that itself repeats or has alike alternatives';
const TOO_MANY = 'too many ways to split the text between repetitions in a row (*, +, {m,n}) or alike alternatives';

function charClass(c: string): number {
  if (/\p{L}/u.test(c)) return L;
  if (/\d/.test(c)) return D;
  if (/\s/.test(c)) return S;
  return P;
}

function escapeClass(e: string): number | 'zero' {
  switch (e[0]) {
    case 'd':
      return D;
    case 'D':
      return L | S | P;
    case 'w':
    case 'S':
      return L | D | P;
    case 's':
    case 'n':
    case 'r':
    case 't':
    case 'f':
    case 'v':
      return S;
    case 'b':
    case 'B':
      return 'zero';
    case 'p':
      return /^p\{(?:L|Letter)/.test(e) ? L : /^p\{(?:N|Number)/.test(e) ? D : /^p\{Z/.test(e) ? S : ALL;
    case 'W':
    case 'P':
    case 'x':
    case 'u':
      return ALL;
    default:
      return charClass(e[0]!);
  }
}

class Parser {
  private i = 0;
  constructor(
    private readonly re: string,
    private readonly budget: number,
  ) {}

  /** The whole pattern; `alternatives` says whether it has a top-level `|`. */
  parse(): { cost: Cost; alternatives: boolean } {
    const alts = this.alternation();
    return { cost: alts.cost, alternatives: alts.count > 1 };
  }

  private alternation(): { cost: Cost; count: number } {
    const alts = [this.sequence()];
    while (this.re[this.i] === '|') {
      this.i++;
      alts.push(this.sequence());
    }
    if (alts.length === 1) return { cost: alts[0]!, count: 1 };
    const ambiguous = alts.some((a, x) => alts.some((b, y) => x !== y && alike(a, b)));
    const or = (f: (c: Cost) => number) => alts.reduce((acc, c) => acc | f(c), 0);
    const lits = alts.every((a) => a.firstLits) ? new Set(alts.flatMap((a) => [...a.firstLits!])) : null;
    return {
      count: alts.length,
      cost: {
        ways: Math.max(...alts.map((a) => a.ways)),
        choice: ambiguous ? cap(alts.reduce((acc, a) => acc + a.choice, 0)) : Math.max(...alts.map((a) => a.choice)),
        first: or((c) => c.first),
        chars: or((c) => c.chars),
        mandatory: alts.every((a) => a.mandatory),
        variable: ambiguous || alts.some((a) => a.variable),
        tail: or((c) => c.tail),
        firstLits: lits,
        lit: null,
      },
    };
  }

  private sequence(): Cost {
    let seg = 1;
    let most = 1;
    let choice = 1;
    let open = 0; // characters the open repetition chain can take
    let first = 0;
    let firstLits: Set<string> | null = new Set();
    let firstDone = false;
    let chars = 0;
    let mandatory = false;
    let variable = false;
    let lit: string | null = '';
    while (this.i < this.re.length && this.re[this.i] !== '|' && this.re[this.i] !== ')') {
      const atom = this.atom();
      if (atom === 'zero') continue;
      const [min, max] = this.quantifier();
      if ('look' in atom) {
        // Runs again at every split of the chain before it; takes nothing itself.
        if (cap(seg * atom.look.ways * choice * atom.look.choice) > this.budget) throw new Refused(TOO_MANY);
        continue;
      }
      const inner = atom.cost;
      if (max > min && max > 1 && inner.variable) throw new Refused(NESTED);
      const repeat = max > min ? Math.min(max === Infinity ? N : max - min + 1, N) : 1;
      let item: Cost;
      if (repeat > 1) {
        item = { ...inner, mandatory: min >= 1 && inner.mandatory, variable: true, tail: inner.chars, lit: null };
        if (open & inner.chars) {
          // It can take what the chain before it takes: every split between them is tried.
          seg = cap(seg * repeat);
          open |= inner.chars;
        } else if (item.mandatory || open === 0) {
          // A new chain: the split before it is fixed (it is required, or nothing before it repeats).
          most = Math.max(most, seg);
          seg = repeat;
          open = inner.chars;
        } else {
          // Optional and unlike the chain: the chain goes on through it (it may be absent).
          most = Math.max(most, repeat);
          open |= inner.chars;
        }
        choice = cap(choice * inner.choice);
      } else {
        const n = Math.max(min, 1);
        const chained = (inner.tail & inner.first) !== 0;
        item = { ...inner, ways: chained ? cap(inner.ways ** n) : inner.ways, choice: cap(inner.choice ** n), lit: inner.lit === null ? null : inner.lit.repeat(n) };
        if (min === 0) item = { ...item, mandatory: false, lit: null };
        // A required piece the open chain cannot take ends the chain: the split before it is fixed.
        if (item.mandatory && (open & item.first) === 0) {
          most = Math.max(most, seg);
          seg = 1;
          open = 0;
        }
        seg = cap(seg * item.ways);
        choice = cap(choice * item.choice);
        open |= item.tail;
      }
      if (!firstDone) {
        first |= item.first;
        firstLits = firstLits && item.firstLits ? new Set([...firstLits, ...item.firstLits]) : null;
        firstDone = item.mandatory;
      }
      lit = lit !== null && item.lit !== null ? lit + item.lit : null;
      chars |= item.chars;
      mandatory ||= item.mandatory;
      variable ||= item.variable;
    }
    return { ways: Math.max(most, seg), choice, first, chars, mandatory, variable, tail: open, firstLits: firstDone ? firstLits : null, lit };
  }

  /** One atom: a character (class), a group, a lookaround, or a zero-width assertion. */
  private atom(): 'zero' | { cost: Cost } | { look: Cost } {
    const c = this.re[this.i]!;
    const single = (set: number, ch?: string) => ({
      cost: { ways: 1, choice: 1, first: set, chars: set, mandatory: true, variable: false, tail: 0, firstLits: ch === undefined ? null : new Set([plain(ch)]), lit: ch === undefined ? null : plain(ch) },
    });
    if (c === '^' || c === '$') {
      this.i++;
      return 'zero';
    }
    if (c === '\\') {
      const next = this.re[this.i + 1] ?? '';
      if (/[1-9]/.test(next) || next === 'k') throw new Refused('a backreference');
      const braced = /^[pPu]\{[^}]*\}/.exec(this.re.slice(this.i + 1));
      const hex = /^(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|c[A-Za-z])/.exec(this.re.slice(this.i + 1));
      const escape = braced?.[0] ?? hex?.[0] ?? next;
      this.i += 1 + escape.length;
      const set = escapeClass(escape);
      if (set === 'zero') return 'zero';
      return /^[^\p{L}\p{N}\s]$/u.test(escape) ? single(set, escape) : single(set);
    }
    if (c === '[') return single(this.bracket());
    if (c === '(') {
      const head = /^\((\?(?:<?[=!]|:|<[^>]*>))?/.exec(this.re.slice(this.i))!;
      this.i += head[0].length;
      const inner = this.alternation().cost;
      this.i++; // ')'
      return /^\(\?<?[=!]/.test(head[0]) ? { look: inner } : { cost: inner };
    }
    this.i++;
    return c === '.' ? single(ALL) : single(charClass(c), c);
  }

  private bracket(): number {
    this.i++;
    if (this.re[this.i] === '^') {
      // A negated class can take almost anything.
      while (this.i < this.re.length && this.re[this.i] !== ']') this.i += this.re[this.i] === '\\' ? 2 : 1;
      this.i++;
      return ALL;
    }
    let set = 0;
    while (this.i < this.re.length && this.re[this.i] !== ']') {
      if (this.re[this.i] === '\\') {
        const braced = /^[pPu]\{[^}]*\}/.exec(this.re.slice(this.i + 1));
        const escape = braced?.[0] ?? this.re[this.i + 1] ?? '';
        const s = escapeClass(escape);
        set |= s === 'zero' ? P : s;
        this.i += 1 + escape.length;
      } else {
        set |= charClass(this.re[this.i]!);
        this.i++;
      }
    }
    this.i++;
    return set || ALL;
  }

  /** `[min, max]` of the quantifier here, `[1, 1]` when there is none. */
  private quantifier(): [number, number] {
    const q = /^(?:[*+?]|\{(\d+)(,(\d*))?\})\??/.exec(this.re.slice(this.i));
    if (!q) return [1, 1];
    this.i += q[0].length;
    const op = q[0].replace(/\?$/, '') || '?';
    if (op === '*') return [0, Infinity];
    if (op === '+') return [1, Infinity];
    if (op === '?') return [0, 1];
    const min = Number(q[1]);
    return [min, q[2] === undefined ? min : q[3] ? Number(q[3]) : Infinity];
  }
}

/** Why `pattern` could backtrack for seconds on a 4096-character message, or null. The pattern must compile. */
export function backtrackingRisk(pattern: string): string | null {
  const anchoredBudget = N * N;
  try {
    const { cost, alternatives } = new Parser(pattern, pattern.startsWith('^') ? anchoredBudget : N).parse();
    const budget = pattern.startsWith('^') && !alternatives ? anchoredBudget : N;
    return cap(cost.ways * cost.choice) > budget ? TOO_MANY : null;
  } catch (error) {
    if (error instanceof Refused) return error.message;
    throw error;
  }
}
