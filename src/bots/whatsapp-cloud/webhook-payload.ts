import { z } from 'zod';

/**
 * Meta's `messages` webhook, as documented (developers.facebook.com,
 * "messages webhook reference"). The envelope is strict — a body without it
 * is not a webhook — while the items are loose: Meta adds fields and message
 * types over time, and one we do not read must not refuse the whole delivery.
 *
 * @example an inbound text
 *   {object: 'whatsapp_business_account', entry: [{id: '<WABA id>', changes: [{field: 'messages', value: {
 *     messaging_product: 'whatsapp', metadata: {display_phone_number: '15550783881', phone_number_id: '106540352242922'},
 *     contacts: [{profile: {name: 'Sheena Nelson'}, wa_id: '16505551234'}],
 *     messages: [{from: '16505551234', id: 'wamid.HBg…', timestamp: '1749416383', type: 'text', text: {body: 'Hi'}}]}}]}]}
 */

const platformError = z.looseObject({
  code: z.number().int(),
  title: z.string().optional(),
  message: z.string().optional(),
  error_data: z.looseObject({ details: z.string().optional() }).optional(),
});
export type PlatformError = z.infer<typeof platformError>;

export const inboundMessageSchema = z.looseObject({
  from: z.string().min(1),
  id: z.string().min(1),
  timestamp: z.string().regex(/^\d+$/).optional(),
  type: z.string(),
  /** Set when the message answers one of ours (a reply, or a tap on a button of that message). */
  context: z.looseObject({ from: z.string().optional(), id: z.string().optional() }).optional(),
  text: z.looseObject({ body: z.string() }).optional(),
  /** A tap on an interactive reply button (`button_reply`) or list row (`list_reply`). */
  interactive: z
    .looseObject({
      type: z.string(),
      button_reply: z.looseObject({ id: z.string(), title: z.string().optional() }).optional(),
    })
    .optional(),
  /** A tap on a template's quick-reply button: its payload is what we put in the template's parameters. */
  button: z.looseObject({ payload: z.string().optional(), text: z.string().optional() }).optional(),
  errors: z.array(platformError).optional(),
});
export type InboundMessagePayload = z.infer<typeof inboundMessageSchema>;

export const statusSchema = z.looseObject({
  id: z.string().min(1),
  status: z.string(),
  timestamp: z.string().regex(/^\d+$/).optional(),
  recipient_id: z.string().optional(),
  errors: z.array(platformError).optional(),
});
export type StatusPayload = z.infer<typeof statusSchema>;

const value = z.looseObject({
  messaging_product: z.literal('whatsapp').optional(),
  metadata: z.looseObject({ display_phone_number: z.string().optional(), phone_number_id: z.string() }).optional(),
  contacts: z.array(z.looseObject({ wa_id: z.string(), profile: z.looseObject({ name: z.string().optional() }).optional() })).optional(),
  /** Items are checked one by one (`inboundMessageSchema`), so one odd item skips alone. */
  messages: z.array(z.unknown()).optional(),
  statuses: z.array(z.unknown()).optional(),
  errors: z.array(platformError).optional(),
});

export const webhookSchema = z.object({
  object: z.literal('whatsapp_business_account'),
  entry: z.array(
    z.looseObject({
      id: z.string().optional(),
      changes: z.array(z.looseObject({ field: z.string(), value: z.unknown() })),
    }),
  ),
});
export type WebhookPayload = z.infer<typeof webhookSchema>;

/** One `messages` change of a delivery, its value checked. */
export type MessagesChange = z.infer<typeof value>;

/** The `messages` changes of a webhook (other fields, subscribed by mistake, are not ours to read). */
export function messagesChanges(payload: WebhookPayload): MessagesChange[] {
  const out: MessagesChange[] = [];
  for (const entry of payload.entry) {
    for (const change of entry.changes) {
      if (change.field !== 'messages') continue;
      const parsed = value.safeParse(change.value);
      if (parsed.success) out.push(parsed.data);
    }
  }
  return out;
}
