import { z } from 'zod';

/** Placeholders an answer template may use; anything else is a config error naming the rule. */
export const TEMPLATE_FIELDS = ['branch', 'business', 'address', 'hours', 'phone', 'rates'] as const;
const PLACEHOLDER = /\{([a-zA-Z_][\w.-]*)\}/g;

/** The `{...}` names a template uses that are not known fields (`rates.<CODE>.<buy|sell>` is known when the code is in the table). */
export function unknownPlaceholders(template: string, rates: Record<string, unknown>): string[] {
  const unknown: string[] = [];
  for (const [, name] of template.matchAll(PLACEHOLDER)) {
    const [head, code, side, ...rest] = name!.split('.');
    if (head === 'rates' && code !== undefined) {
      const known = Object.keys(rates).find((c) => c.toLowerCase() === code.toLowerCase());
      if (!known || rest.length > 0 || (side !== undefined && side !== 'buy' && side !== 'sell')) unknown.push(name!);
    } else if (!(TEMPLATE_FIELDS as readonly string[]).includes(name!)) unknown.push(name!);
  }
  return unknown;
}

function regexError(pattern: string): string | null {
  try {
    new RegExp(pattern, 'iu');
  } catch (error) {
    return `invalid regular expression: ${error instanceof Error ? error.message : String(error)}`;
  }
  const risk = backtrackingRisk(pattern);
  return risk ? `regular expression may take seconds on a long message (${risk}); use keywords, or a simpler pattern` : null;
}

/** The longest message a pattern runs on: an unbounded repetition can try this many lengths. */
const MESSAGE = 4096;

/**
 * Why `pattern` could backtrack for seconds on a 4096-character message, or
 * null. JavaScript regexes backtrack: `(a+)+$` is exponential, `.*a.*b` cubic
 * (seconds on 4 KB) and `a{0,20}a{0,20}a{0,20}a{0,20}b` tries 21^4 splits at
 * every position; FAQ patterns run on every customer message, on the event
 * loop, so start-up refuses them. Conservative, by structure:
 * - no backreferences, and no repeated group that itself repeats or has
 *   alternatives;
 * - repetitions in a row multiply the ways to split the text: `*`, `+` and
 *   `{n,}` count 4096, `{m,n}` n-m+1, `?` 2; alternatives count on their own,
 *   lookarounds with what surrounds them (they run again at every position
 *   the outside backtracks to). At most 4096 ways are allowed (one `.*`, or a
 *   few small ranges), times 4096 more when the pattern starts with `^` and has
 *   no top-level `|` (it is tried from one position only, so `^\s*(oi|ola)\s*$`
 *   is fine).
 */
export function backtrackingRisk(pattern: string): string | null {
  interface Frame {
    nested: boolean;
    /** Ways to split the text in the current alternative, and the most in an earlier one. */
    ways: number;
    most: number;
  }
  const TOO_MANY = 'too many ways to split the text between repetitions in a row (*, +, {m,n}): at most one unbounded repetition, or a few small ranges';
  // Provisional inside groups; the end checks the anchor held for the whole pattern.
  const anchored = pattern.startsWith('^');
  const budget = (anchoredHere: boolean) => (anchoredHere ? MESSAGE * MESSAGE : MESSAGE);
  const times = (a: number, b: number) => Math.min(a * b, Number.MAX_SAFE_INTEGER);
  let topAlternatives = false;
  const stack: Frame[] = [{ nested: false, ways: 1, most: 1 }];
  let last: 'atom' | Frame | null = null;
  for (let i = 0; i < pattern.length; ) {
    const c = pattern[i]!;
    const top = stack.at(-1)!;
    if (c === '\\') {
      const next = pattern[i + 1] ?? '';
      if (/[1-9]/.test(next) || next === 'k') return 'a backreference';
      i = /[pPu]/.test(next) && pattern[i + 2] === '{' ? pattern.indexOf('}', i) + 1 : i + 2;
      last = 'atom';
    } else if (c === '[') {
      i++;
      if (pattern[i] === '^') i++;
      while (i < pattern.length && pattern[i] !== ']') i += pattern[i] === '\\' ? 2 : 1;
      i++;
      last = 'atom';
    } else if (c === '(') {
      const head = /^\((\?(?:<?[=!]|:|<[^>]*>))?/.exec(pattern.slice(i))!;
      stack.push({ nested: false, ways: 1, most: 1 });
      i += head[0].length;
      last = null;
    } else if (c === ')') {
      const frame = stack.length > 1 ? stack.pop()! : top;
      const parent = stack.at(-1)!;
      const most = Math.max(frame.most, frame.ways);
      if (most > budget(anchored)) return TOO_MANY;
      parent.ways = times(parent.ways, most);
      parent.nested ||= frame.nested;
      i++;
      last = frame;
    } else if (c === '|') {
      top.nested = true;
      if (stack.length === 1) topAlternatives = true;
      top.most = Math.max(top.most, top.ways);
      top.ways = 1;
      i++;
      last = null;
    } else {
      const q = /^(?:[*+?]|\{(\d+)(,(\d*))?\})/.exec(pattern.slice(i));
      if (q && last) {
        const min = q[0] === '+' ? 1 : q[1] !== undefined ? Number(q[1]) : 0;
        const max = q[0] === '?' ? 1 : q[0] === '*' || q[0] === '+' ? Infinity : q[2] === undefined ? Number(q[1]) : q[3] ? Number(q[3]) : Infinity;
        if (max > 1 && typeof last === 'object' && last.nested) return 'a repeated group that itself repeats or has alternatives';
        if (max > min) {
          if (max > 1) top.nested = true;
          top.ways = times(top.ways, Math.min(max - min + 1, MESSAGE));
        }
        i += q[0].length + (pattern[i + q[0].length] === '?' ? 1 : 0);
        last = null;
      } else {
        i++;
        last = 'atom';
      }
    }
  }
  return Math.max(stack[0]!.most, stack[0]!.ways) > budget(anchored && !topAlternatives) ? TOO_MANY : null;
}

const faqRule = z
  .strictObject({
    id: z.string().regex(/^[\w.-]{1,40}$/, 'expected a short rule id (letters, digits, "-", "_", ".")'),
    /** Words or phrases; matched as whole words, ignoring case and accents ("horario" matches "Horário"). */
    keywords: z.array(z.string().min(1).max(100)).default([]),
    /** Regular expressions (case-insensitive, Unicode), tried on the accent-free lower-case text. */
    patterns: z.array(z.string().min(1).max(500)).default([]),
    answer: z.string().min(1).max(4000),
  })
  .superRefine((rule, ctx) => {
    if (rule.keywords.length === 0 && rule.patterns.length === 0) {
      ctx.addIssue({ code: 'custom', message: `FAQ rule '${rule.id}' needs keywords or patterns`, path: ['keywords'] });
    }
    rule.patterns.forEach((pattern, i) => {
      const why = regexError(pattern);
      if (why) ctx.addIssue({ code: 'custom', message: `FAQ rule '${rule.id}': ${why}`, path: ['patterns', i] });
    });
  });

const rate = z.strictObject({ buy: z.number().positive(), sell: z.number().positive() });

/** Where a branch's staff are told about a hand-off: an agent and the chat it posts in (Slack channel id, Telegram chat id). */
const staffTarget = z.strictObject({ agent: z.string().min(1), chat: z.string().min(1).optional() });

/**
 * A branch's automatic responder: opt-out, business hours, FAQ, then hand-off
 * (ARCHITECTURE.md, "conversations"). Every text is data: templates only
 * substitute the named fields above.
 */
export const responderSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    optOut: z
      .strictObject({
        stop: z.array(z.string().min(1)).default(['STOP', 'SAIR', 'PARAR', 'CANCELAR', 'UNSUBSCRIBE']),
        start: z.array(z.string().min(1)).default(['START', 'VOLTAR', 'SUBSCRIBE']),
        stopReply: z.string().min(1).default('You will not get automatic messages from {branch} any more. Send START to subscribe again.'),
        startReply: z.string().min(1).default('Welcome back: {branch} will answer you again.'),
      })
      .prefault({}),
    /** Answer to Telegram's /start (a customer opening the chat). */
    welcomeReply: z.string().min(1).default('Hello! This is {branch}. Ask about our rates, opening hours or address, or write "person" to talk to someone.'),
    afterHoursReply: z.string().min(1).default('{branch} is closed right now. Opening hours: {hours}. Write "person" and someone will answer you when we open.'),
    /** After hours, to a customer asking for a person: staff are told, and answer when they open. */
    afterHoursHandoffReply: z.string().min(1).default('Thank you. {branch} is closed right now ({hours}); a person will answer you here when we open.'),
    handoffReply: z.string().min(1).default('Thank you. A person from {branch} will answer you here shortly.'),
    /** Phrases that mean "let me talk to a person": hand off at once. */
    humanKeywords: z.array(z.string().min(1)).default(['atendente', 'humano', 'pessoa', 'falar com alguem', 'human', 'person', 'agent', 'operator']),
    faq: z.array(faqRule).default([]),
    /** Currency rates for templates, e.g. `USD: {buy: 5.10, sell: 5.35}`. */
    rates: z.record(z.string().regex(/^[A-Za-z]{3}$/, 'expected a 3-letter currency code'), rate).default({}),
    /** Staff notification targets, in order; the first whose agent is up is used. */
    staff: z.array(staffTarget).default([]),
    phone: z.string().optional(),
    limits: z
      .strictObject({
        /** Inbound messages kept per contact per minute; the rest are counted and dropped. */
        inboundPerMinute: z.number().int().min(1).max(1000).default(20),
        /** Longer texts are stored cut to this many characters (and marked). */
        maxTextLength: z.number().int().min(100).max(65_536).default(4096),
        /** Automatic replies per contact per window (stops loops with other bots). */
        autoRepliesPerWindow: z.number().int().min(1).max(1000).default(5),
        /** The conversation window, minutes: one after-hours reply and the auto-reply cap per window. */
        windowMinutes: z.number().int().min(1).max(7 * 24 * 60).default(60),
      })
      .prefault({}),
  })
  .superRefine((responder, ctx) => {
    const check = (template: string, path: (string | number)[], what: string) => {
      const bad = unknownPlaceholders(template, responder.rates);
      if (bad.length) {
        ctx.addIssue({ code: 'custom', path, message: `${what} uses unknown field${bad.length > 1 ? 's' : ''} ${bad.map((b) => `{${b}}`).join(', ')} (known: ${TEMPLATE_FIELDS.map((f) => `{${f}}`).join(', ')}, {rates.<CODE>.buy|sell})` });
      }
    };
    responder.faq.forEach((rule, i) => check(rule.answer, ['faq', i, 'answer'], `FAQ rule '${rule.id}'`));
    check(responder.afterHoursReply, ['afterHoursReply'], 'afterHoursReply');
    check(responder.afterHoursHandoffReply, ['afterHoursHandoffReply'], 'afterHoursHandoffReply');
    check(responder.welcomeReply, ['welcomeReply'], 'welcomeReply');
    check(responder.handoffReply, ['handoffReply'], 'handoffReply');
    check(responder.optOut.stopReply, ['optOut', 'stopReply'], 'optOut.stopReply');
    check(responder.optOut.startReply, ['optOut', 'startReply'], 'optOut.startReply');
    const ids = new Set<string>();
    responder.faq.forEach((rule, i) => {
      if (ids.has(rule.id)) ctx.addIssue({ code: 'custom', path: ['faq', i, 'id'], message: `FAQ rule id '${rule.id}' is used twice` });
      ids.add(rule.id);
    });
  });

export type ResponderConfig = z.infer<typeof responderSchema>;
export type FaqRule = ResponderConfig['faq'][number];
