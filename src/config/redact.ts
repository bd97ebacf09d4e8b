/**
 * Secrets and personal data never reach a log line or an API answer. Keys that
 * name a secret are masked whole; free text is scanned for tokens and phones.
 */
const SECRET_KEY = /(token|secret|password|passwd|authorization|cookie|api[-_]?key|credential|mongodb_?uri|^uri$)/i;
/** Query parameters that carry a credential (`?token=…`, `&api_key=…`, `&sig=…`). */
const QUERY_SECRET = /(token|secret|password|passwd|api[-_]?key|apikey|signature|^sig$|^key$|^code$|auth|credential|session)/i;
/** `%74oken` is `token` to the server that reads it: decode before judging the name (a bad escape is kept as is). */
function decodeOrKeep(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
const PHONE_KEY = /^(phone|whatsapp|msisdn|jid|from|to)$/i;

const PATTERNS: Array<[RegExp, string | ((m: string) => string)]> = [
  [/\bBearer\s+[A-Za-z0-9._~+/=-]+/g, 'Bearer [redacted]'],
  [/\bxox[abposr]-[A-Za-z0-9-]+/g, '[redacted-slack-token]'],
  [/\bxapp-[A-Za-z0-9-]+/g, '[redacted-slack-token]'],
  [/\d{6,12}:[A-Za-z0-9_-]{30,}/g, '[redacted-telegram-token]'],
  // Meta Graph API access tokens (WhatsApp Cloud API): `EAA…`, long base62.
  [/\bEAA[A-Za-z0-9]{30,}/g, '[redacted-graph-token]'],
  [/\b(adm|agt|opr|mgr|run)_[A-Za-z0-9_-]{20,}/g, '[redacted-token]'],
  [/(mongodb(?:\+srv)?:\/\/)[^@\s/]+@/g, '$1[redacted]@'],
  // Credentials in URL query strings (`?token=…`, `&api_key=…`), e.g. in access log lines.
  [/([?&;])([^=&;#\s?]{1,64})=([^&;#\s]*)/g, (m) => (QUERY_SECRET.test(decodeOrKeep(m.slice(1, m.indexOf('=')))) ? `${m.slice(0, m.indexOf('=') + 1)}[redacted]` : m)],
  [/\b(\d{6,15})@(s\.whatsapp\.net|c\.us|lid)\b/g, (m) => maskDigits(m.split('@')[0]) + '@' + m.split('@')[1]],
  [/\+\d[\d ()-]{6,18}\d/g, (m) => maskDigits(m)],
];

function maskDigits(text: string): string {
  const digits = text.replace(/\D/g, '');
  return `${text.startsWith('+') ? '+' : ''}***${digits.slice(-3)}`;
}

export function redactText(text: string): string {
  let out = text;
  for (const [pattern, replacement] of PATTERNS) {
    out = out.replace(pattern, replacement as string);
  }
  return out;
}

/** A deep copy of `value` with secrets masked; safe to log or return. Cycles are cut. */
export function redact<T>(value: T, seen = new WeakSet<object>()): T {
  if (typeof value === 'string') return redactText(value) as T;
  if (!value || typeof value !== 'object') return value;
  if (value instanceof Error) return { name: value.name, message: redactText(value.message) } as T;
  if (seen.has(value)) return '[circular]' as T;
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => redact(v, seen)) as T;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (SECRET_KEY.test(key) && v !== undefined && v !== null && v !== '') out[key] = '[redacted]';
    else if (PHONE_KEY.test(key) && typeof v === 'string' && /\d{6,}/.test(v.replace(/\D/g, ''))) out[key] = maskDigits(v);
    else out[key] = redact(v, seen);
  }
  return out as T;
}
