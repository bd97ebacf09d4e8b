import { z } from 'zod';
import type { ManagerIdentity } from './channel-factory.js';

/** An international phone number as configured (`+351912345678`; digits with an optional `+`). */
export const phoneSchema = z.string().regex(/^\+?[1-9]\d{6,14}$/, 'expected an international phone number such as +351912345678');

/** The digits of a phone number or of a chat id's user part (`351912345678:7@s.whatsapp.net` → `351912345678`). */
export function phoneDigits(value: string): string {
  return (value.split('@')[0] ?? '').split(':')[0]!.replace(/\D/g, '');
}

/**
 * A manager named by phone number, as every WhatsApp channel does: the chat
 * user matches by digits, whatever way the channel writes them (`+351 912…`,
 * `351912…@s.whatsapp.net`, a Cloud API `wa_id`). Channels reaching the same
 * phones share the key, so one `whatsapp:` entry serves them all.
 */
export function phoneIdentity(key: string): ManagerIdentity {
  return {
    key,
    schema: phoneSchema,
    matches: (configured, userId) => phoneDigits(configured) !== '' && phoneDigits(configured) === phoneDigits(userId),
    severalChats: true,
  };
}
