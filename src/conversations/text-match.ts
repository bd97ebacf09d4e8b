/**
 * Text matching for the responder: case and accents are ignored, so
 * "HORÁRIO", "horario" and "Horário?" all match the keyword "horário".
 */
import { compileFaqPattern, type FaqPattern } from '../config/faq-pattern.js';
import { stripAccents } from '../core/accents.js';

/** Anything that says whether a normalized text matches: keyword matchers and FAQ patterns alike. */
export type TextMatcher = Pick<RegExp, 'test'> | FaqPattern;

/** Lower-case, accent-free, single-spaced text. */
export function normalizeText(text: string): string {
  return stripAccents(text).toLowerCase().replace(/\s+/g, ' ').trim();
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A matcher for a word or phrase as whole words (not inside another word: "euro" does not match "europa"). */
export function phraseMatcher(phrase: string): RegExp {
  return new RegExp(`(^|[^\\p{L}\\p{N}])${escape(normalizeText(phrase))}($|[^\\p{L}\\p{N}])`, 'u');
}

/** The message is exactly this command, give or take case, accents and surrounding punctuation ("Stop!" is STOP). */
export function isCommand(normalized: string, commands: string[]): boolean {
  const bare = normalized.replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, '');
  return commands.some((c) => normalizeText(c) === bare);
}

/**
 * An FAQ pattern, run on normalized (hostile) customer text by RE2 in linear
 * time; its accents are dropped too, so `horário` matches "HORARIO".
 */
export function patternMatcher(pattern: string): FaqPattern {
  return compileFaqPattern(pattern);
}
