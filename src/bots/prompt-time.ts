/**
 * A time in a prompt, in the branch's time zone with the zone's short name:
 * `2026-07-31 11:00 GMT+1` (Lisbon in summer), `2026-12-31 07:00 GMT-3`, `2026-12-31 10:00 UTC`.
 * An unknown zone or a bad time falls back to UTC (a prompt never fails over a time).
 */
/** Formatters by zone: building one costs far more than using it (the dashboard formats every approval it sends). */
const formats = new Map<string, Intl.DateTimeFormat>();

function formatFor(timeZone: string): Intl.DateTimeFormat {
  let format = formats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZoneName: 'short' });
    // Zones come from the config (validated), so the map stays small; the cap only guards against surprises.
    if (formats.size < 1000) formats.set(timeZone, format);
  }
  return format;
}

export function promptTime(iso: string, timeZone = 'UTC'): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  let parts: Intl.DateTimeFormatPart[];
  try {
    parts = formatFor(timeZone).formatToParts(at);
  } catch {
    return timeZone === 'UTC' ? `${iso.replace('T', ' ').slice(0, 16)} UTC` : promptTime(iso, 'UTC');
  }
  const part = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? '';
  return `${part('year')}-${part('month')}-${part('day')} ${part('hour')}:${part('minute')} ${part('timeZoneName')}`;
}
