import type { BranchConfig } from '../config/config-schema.js';

type Hours = NonNullable<BranchConfig['businessHours']>;
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
const LABEL: Record<(typeof DAYS)[number], string> = { mon: 'Mon', tue: 'Tue', wed: 'Wed', thu: 'Thu', fri: 'Fri', sat: 'Sat', sun: 'Sun' };

const ranges = (value: string | string[] | undefined): string[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** One formatter per zone (a handful of branches): building one costs more than the message it checks. */
const formats = new Map<string, Intl.DateTimeFormat>();

/** The weekday and "HH:MM" at `at` in the branch's time zone. */
export function localTime(at: Date, timeZone: string): { day: (typeof DAYS)[number]; time: string } {
  let format = formats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formats.set(timeZone, format);
  }
  const parts = format.formatToParts(at);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return { day: get('weekday').toLowerCase().slice(0, 3) as (typeof DAYS)[number], time: `${get('hour')}:${get('minute')}` };
}

/** Open at `at`? A branch without business hours is always open; a day not listed is closed. */
export function isOpen(hours: BranchConfig['businessHours'], timeZone: string, at: Date): boolean {
  if (!hours || Object.keys(hours).length === 0) return true;
  const { day, time } = localTime(at, timeZone);
  return ranges(hours[day]).some((r) => time >= r.slice(0, 5) && time < r.slice(6));
}

/** "Mon-Fri 09:00-18:00; Sat 09:00-13:00" — consecutive days with the same hours grouped. */
export function describeHours(hours: Hours | undefined): string {
  if (!hours || Object.keys(hours).length === 0) return 'every day, all day';
  const groups: Array<{ from: string; to: string; text: string }> = [];
  for (const day of DAYS) {
    const text = ranges(hours[day]).join(', ');
    const last = groups.at(-1);
    if (text && last && last.text === text && DAYS.indexOf(last.to as (typeof DAYS)[number]) === DAYS.indexOf(day) - 1) last.to = day;
    else if (text) groups.push({ from: day, to: day, text });
  }
  return groups
    .map((g) => `${LABEL[g.from as (typeof DAYS)[number]]}${g.to !== g.from ? `-${LABEL[g.to as (typeof DAYS)[number]]}` : ''} ${g.text}`)
    .join('; ');
}
