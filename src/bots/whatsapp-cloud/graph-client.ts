import { z } from 'zod';
import { CodedError, ErrorCode } from '../../core/errors.js';

/** Meta's error body (`{error: {message, type, code, error_subcode?, error_data?: {details}, fbtrace_id}}`). */
const graphErrorBody = z.object({
  error: z.looseObject({
    message: z.string().default(''),
    type: z.string().optional(),
    code: z.number().int(),
    error_subcode: z.number().int().optional(),
    error_data: z.looseObject({ details: z.string().optional() }).optional(),
    fbtrace_id: z.string().optional(),
  }),
});

/** What Meta's error code means for us: wait and retry, use a template, get a person, or fail the send. */
export type GraphErrorKind = 'rate_limited' | 'outside_window' | 'token' | 'permission' | 'other';

/** Throughput (130429), pair rate (131056), app (4) and account (80007) rate limits: waiting helps. */
const RATE_LIMITED = new Set([4, 80007, 130429, 131056]);

export function kindOf(code: number): GraphErrorKind {
  if (RATE_LIMITED.has(code)) return 'rate_limited';
  if (code === 131047) return 'outside_window';
  if (code === 190 || code === 0) return 'token';
  if (code === 10 || (code >= 200 && code <= 299)) return 'permission';
  return 'other';
}

/**
 * A Graph API call Meta refused, carrying Meta's own code and words. Callers
 * branch on `kind` (from `code`), never on the message, as Meta advises.
 */
export class GraphApiError extends CodedError {
  readonly kind: GraphErrorKind;

  constructor(
    readonly httpStatus: number,
    readonly graphCode: number,
    readonly graphMessage: string,
    readonly extra: { subcode?: number; details?: string; fbtraceId?: string },
  ) {
    const details = extra.details && !graphMessage.includes(extra.details) ? `: ${extra.details}` : '';
    super(ErrorCode.DeliveryFailed, `WhatsApp Cloud API error ${graphCode}: ${graphMessage}${details}`, { graphCode, httpStatus, ...extra });
    this.name = 'GraphApiError';
    this.kind = kindOf(graphCode);
  }
}

/** What a send answers: `{messaging_product, contacts: [{input, wa_id}], messages: [{id, message_status?}]}`. */
const sendAnswer = z.looseObject({
  contacts: z.array(z.looseObject({ input: z.string().optional(), wa_id: z.string() })).optional(),
  messages: z.array(z.looseObject({ id: z.string().min(1) })).min(1),
});

/** The phone number node's fields we read for health. */
const phoneNumberAnswer = z.looseObject({
  id: z.string().optional(),
  display_phone_number: z.string().optional(),
  verified_name: z.string().optional(),
  quality_rating: z.string().optional(),
});
export type PhoneNumberInfo = z.infer<typeof phoneNumberAnswer>;

/** A body for `POST /{version}/{phone-number-id}/messages` (text, interactive or template). */
export type OutboundBody = { to: string; type: 'text' | 'interactive' | 'template'; context?: { message_id: string } } & Record<string, unknown>;

/**
 * The few Graph API calls the channel makes, over `fetch` (no SDK): send a
 * message and read the phone number. Every failure is a CodedError — a
 * GraphApiError when Meta answered with its error shape, DeliveryFailed for
 * a network failure or an answer that is not the documented one.
 */
export class GraphClient {
  constructor(private readonly options: { baseUrl: string; version: string; phoneNumberId: string; accessToken: string; timeoutMs: number }) {}

  async sendMessage(body: OutboundBody, signal?: AbortSignal): Promise<{ wamid: string; waId?: string }> {
    const answer = sendAnswer.safeParse(await this.call('POST', `${this.options.phoneNumberId}/messages`, { messaging_product: 'whatsapp', recipient_type: 'individual', ...body }, signal));
    if (!answer.success) throw new CodedError(ErrorCode.DeliveryFailed, 'WhatsApp Cloud API answered a send without a message id');
    return { wamid: answer.data.messages[0]!.id, waId: answer.data.contacts?.[0]?.wa_id };
  }

  async phoneNumber(signal?: AbortSignal): Promise<PhoneNumberInfo> {
    const answer = phoneNumberAnswer.safeParse(await this.call('GET', `${this.options.phoneNumberId}?fields=display_phone_number,verified_name,quality_rating`, undefined, signal));
    if (!answer.success) throw new CodedError(ErrorCode.DeliveryFailed, 'WhatsApp Cloud API answered the phone number read with an unexpected body');
    return answer.data;
  }

  private async call(method: 'GET' | 'POST', path: string, body: unknown, signal?: AbortSignal): Promise<unknown> {
    const url = `${this.options.baseUrl.replace(/\/+$/, '')}/${this.options.version}/${path}`;
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: { authorization: `Bearer ${this.options.accessToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (error) {
      throw new CodedError(ErrorCode.DeliveryFailed, `WhatsApp Cloud API unreachable: ${this.why(error, timeout)}`);
    }
    let text: string;
    try {
      text = await res.text();
    } catch (error) {
      throw new CodedError(ErrorCode.DeliveryFailed, `WhatsApp Cloud API answered HTTP ${res.status} but its body did not arrive: ${this.why(error, timeout)}`);
    }
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (res.ok) return parsed;
    const failure = graphErrorBody.safeParse(parsed);
    if (!failure.success) throw new CodedError(ErrorCode.DeliveryFailed, `WhatsApp Cloud API answered HTTP ${res.status} without an error body`);
    const e = failure.data.error;
    throw new GraphApiError(res.status, e.code, e.message, { subcode: e.error_subcode, details: e.error_data?.details, fbtraceId: e.fbtrace_id });
  }

  /**
   * Why a call failed, without the access token: fetch quotes a header value it
   * refuses, so the error (and its cause) is never passed on as it is.
   */
  private why(error: unknown, timeout: AbortSignal): string {
    if (timeout.aborted) return `no answer within ${this.options.timeoutMs} ms`;
    const message = error instanceof Error ? `${error.message}${error.cause instanceof Error ? ` (${error.cause.message})` : ''}` : String(error);
    const token = this.options.accessToken;
    return token ? message.split(token).join('[access token]') : message;
  }
}
