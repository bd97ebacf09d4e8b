import { z } from 'zod';
import { faqPatternProblem } from './faq-pattern.js';

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

const faqRule = z
  .strictObject({
    id: z.string().regex(/^[\w.-]{1,40}$/, 'expected a short rule id (letters, digits, "-", "_", ".")'),
    /** Words or phrases; matched as whole words, ignoring case and accents ("horario" matches "Horário"). */
    keywords: z.array(z.string().min(1).max(100)).default([]),
    /** Regular expressions in RE2 syntax (linear-time: no lookarounds or backreferences), case-insensitive, tried on the accent-free lower-case text. */
    patterns: z.array(z.string().min(1).max(500)).default([]),
    answer: z.string().min(1).max(4000),
  })
  .superRefine((rule, ctx) => {
    if (rule.keywords.length === 0 && rule.patterns.length === 0) {
      ctx.addIssue({ code: 'custom', message: `FAQ rule '${rule.id}' needs keywords or patterns`, path: ['keywords'] });
    }
    rule.patterns.forEach((pattern, i) => {
      const why = faqPatternProblem(pattern);
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
