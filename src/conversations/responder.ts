import type { BranchConfig } from '../config/config-schema.js';
import type { ResponderConfig } from '../config/responder-schema.js';
import type { ConversationState } from '../storage/records.js';
import { renderTemplate, type TemplateFields } from './answer-template.js';
import { isOpen } from './business-hours.js';
import { isCommand, normalizeText, patternMatcher, phraseMatcher, type TextMatcher } from './text-match.js';

/** What the responder decided for one inbound message. */
export type ResponderOutcome =
  | { kind: 'opt_out'; reply: string }
  | { kind: 'opt_in'; reply: string }
  /** Opted-out contact (not with staff): stored, never answered by the bot. */
  | { kind: 'silent_opted_out' }
  /** Already with staff (opted out or not): forwarded to them, no bot reply. */
  | { kind: 'with_staff' }
  /** Closed: `reply` only once per conversation window. */
  | { kind: 'after_hours'; reply?: string }
  | { kind: 'faq'; ruleId: string; reply: string }
  /** Telegram's /start: a greeting, not a question for staff. */
  | { kind: 'welcome'; reply: string }
  | { kind: 'handoff'; reason: 'no_answer' | 'asked_for_person' | 'responder_off'; reply?: string };

export interface ResponderInput {
  text: string;
  optedOut: boolean;
  state: ConversationState;
  /** The after-hours reply was already sent in this window. */
  afterHoursSent: boolean;
  now: Date;
}

interface CompiledRule {
  id: string;
  answer: string;
  matchers: TextMatcher[];
}

/**
 * A branch's responder, compiled once per config: opt-out keywords, business
 * hours, FAQ rules, then hand-off — in that order (the conversation issue).
 * Pure: it decides; the conversation service stores and sends.
 */
export class Responder {
  private readonly rules: CompiledRule[];
  private readonly human: RegExp[];
  private readonly config: ResponderConfig;

  constructor(
    private readonly branch: BranchConfig,
    private readonly fields: TemplateFields,
  ) {
    this.config = branch.responder;
    this.rules = this.config.faq.map((rule) => ({
      id: rule.id,
      answer: rule.answer,
      matchers: [...rule.keywords.map(phraseMatcher), ...rule.patterns.map(patternMatcher)],
    }));
    this.human = this.config.humanKeywords.map(phraseMatcher);
  }

  decide(input: ResponderInput): ResponderOutcome {
    const text = normalizeText(input.text);
    const render = (template: string) => renderTemplate(template, this.fields);
    if (isCommand(text, this.config.optOut.stop)) return { kind: 'opt_out', reply: render(this.config.optOut.stopReply) };
    if (isCommand(text, this.config.optOut.start)) {
      if (input.optedOut) return { kind: 'opt_in', reply: render(this.config.optOut.startReply) };
      // START from someone subscribed (or Telegram's /start) is a greeting, not a question for staff.
      return input.state === 'pending_human' ? { kind: 'with_staff' } : { kind: 'welcome', reply: render(this.config.welcomeReply) };
    }
    // Opted out: no bot answer; but staff answering them still see what they write.
    if (input.optedOut) return input.state === 'pending_human' ? { kind: 'with_staff' } : { kind: 'silent_opted_out' };
    return this.route(text, input);
  }

  private route(text: string, input: ResponderInput): ResponderOutcome {
    const render = (template: string) => renderTemplate(template, this.fields);
    if (input.state === 'pending_human') return { kind: 'with_staff' };
    if (/^\/start(\s|$)/.test(text)) return { kind: 'welcome', reply: render(this.config.welcomeReply) };
    if (!this.config.enabled) return { kind: 'handoff', reason: 'responder_off' };
    const wantsPerson = this.human.some((m) => m.test(text));
    if (!isOpen(this.branch.businessHours, this.branch.timezone, input.now)) {
      // Closed: asking for a person is still a hand-off (staff see it and answer when they open); anything else gets the hours once.
      if (wantsPerson) return { kind: 'handoff', reason: 'asked_for_person', reply: render(this.config.afterHoursHandoffReply) };
      return input.afterHoursSent ? { kind: 'after_hours' } : { kind: 'after_hours', reply: render(this.config.afterHoursReply) };
    }
    if (wantsPerson) return { kind: 'handoff', reason: 'asked_for_person', reply: render(this.config.handoffReply) };
    const rule = this.rules.find((r) => r.matchers.some((m) => m.test(text)));
    if (rule) return { kind: 'faq', ruleId: rule.id, reply: render(rule.answer) };
    return { kind: 'handoff', reason: 'no_answer', reply: render(this.config.handoffReply) };
  }
}
