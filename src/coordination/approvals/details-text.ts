/** A value longer than this is folded (the dashboard and the API have it whole). */
const VALUE_MAX = 300;
const MAX_LINES = 40;

const fold = (text: string) => (text.length > VALUE_MAX ? `${text.slice(0, VALUE_MAX)}… (${text.length - VALUE_MAX} more characters)` : text);

/**
 * An approval's `details` as a manager reads them in a chat prompt: one
 * `key: value` line per field (nested objects as `parent.child`), lists of
 * plain values joined with commas, long values folded — never raw JSON.
 * A string (or number) is shown as it is.
 */
export function detailsText(details: unknown): string | undefined {
  if (details === undefined || details === null) return undefined;
  // A string is the requester's own words: whole (the prompt cuts it at its own limit, saying so).
  if (typeof details !== 'object') return String(details);
  const lines: string[] = [];
  const walk = (value: unknown, path: string, depth: number) => {
    if (lines.length >= MAX_LINES) return;
    if (value !== null && typeof value === 'object' && depth < 3 && !(Array.isArray(value) && value.every((v) => v === null || typeof v !== 'object'))) {
      const entries = Array.isArray(value) ? value.map((v, i) => [String(i + 1), v] as const) : Object.entries(value);
      if (entries.length === 0) lines.push(`${path || '(empty)'}: —`);
      for (const [key, v] of entries) walk(v, path ? `${path}.${key}` : key, depth + 1);
      return;
    }
    const shown = Array.isArray(value) ? value.map((v) => String(v)).join(', ') : value !== null && typeof value === 'object' ? JSON.stringify(value) : String(value);
    lines.push(`${path || 'value'}: ${fold(shown)}`);
  };
  walk(details, '', 0);
  if (lines.length >= MAX_LINES) lines.push('… (more fields on the dashboard)');
  return lines.join('\n');
}
