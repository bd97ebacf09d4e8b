/** An approved message template with two quick-reply buttons (Approve first, Reject second), for prompts outside the 24-hour window. */
export interface ApprovalTemplate {
  name: string;
  /** The template's language code, as approved (`en`, `en_US`, `pt_PT`). */
  language: string;
}

/** How sends retry Meta's throughput and pair rate limits (130429, 131056). */
export interface CloudRetry {
  /** Tries after the first (0: fail at once). */
  attempts: number;
  /** The first wait; each further one doubles, up to `maxMs`. */
  baseMs: number;
  maxMs: number;
}

/** One `channel: whatsapp-cloud` agent, as the config schema (the factory's `agentFields`) outputs it. */
export interface WhatsAppCloudAgentConfig {
  id: string;
  /** The business number's id in Meta's API (not the phone number itself). */
  phoneNumberId: string;
  /** A system user's permanent token with `whatsapp_business_messaging`. */
  accessToken: string;
  /** Signs every webhook (`X-Hub-Signature-256`) and, derived, our button ids. */
  appSecret: string;
  /** What Meta's webhook verification (`hub.verify_token`) must present. */
  verifyToken: string;
  graphApiVersion: string;
  approvalTemplate?: ApprovalTemplate;
  retry: CloudRetry;
  /** How long one Graph API call may take (ms). */
  requestTimeoutMs: number;
}
