/**
 * The one small interface every chat channel's bot implements (like Bolt's
 * Receiver or grammY's StorageAdapter). The coordinator drives local and remote
 * bots only through this; what else a channel needs (webhooks, config fields,
 * identities) its factory declares (`channel-factory.ts`).
 */

/** What one health probe found. */
export interface ProbeResult {
  ok: boolean;
  latencyMs?: number;
  detail?: string;
  /** The failure will not fix itself by restarting (revoked token, logged-out number): a human must act. */
  needsHuman?: boolean;
  /** The bot is reconnecting by itself, with its own backoff (a WhatsApp socket): restarting it would only reset that. */
  reconnecting?: boolean;
}

/** A message someone sent to one of our bots. */
export interface InboundMessage {
  agentId: string;
  channel: string;
  chatId: string;
  senderId: string;
  senderName?: string;
  text: string;
  /** ISO-8601. */
  at: string;
  messageId?: string;
  replyToMessageId?: string;
  /** The sender's phone number (digits, with country code) when the channel knows it (WhatsApp LIDs may hide it). */
  senderPhone?: string;
  /** The thread the message was posted in (Slack `thread_ts`): staff replies in a hand-off thread. */
  thread?: string;
  /** The chat is a group or channel rather than a one-to-one chat. */
  group?: boolean;
}

/** Where a sent message landed, so it can be edited later. */
export interface MessageRef {
  chatId: string;
  messageId: string;
}

/** How to send. */
export interface SendOptions {
  /** Post under this message of the same chat (a Slack thread reply, a Telegram reply): a hand-off's or an incident's thread. */
  replyTo?: string;
}

/** An approval request as a channel renders it. */
export interface ApprovalPrompt {
  approvalId: string;
  code: string;
  branchName: string;
  actionType: string;
  summary: string;
  details?: string;
  riskLevel: string;
  requester: string;
  expiresAt: string;
  /** The branch's IANA time zone: times in the prompt and its outcome are shown in it (`promptTime`). */
  timeZone?: string;
  /** Where it stands, a line each, shown on every copy: "1 of 2 approvals: Ana (…)", "Escalated to Rui at …". */
  progress?: string[];
}

/**
 * The outcome shown on every copy of a prompt once decided; while `status` is
 * `pending`, a change of its progress (a partial approval, an escalation step):
 * the copy is redrawn and keeps its buttons, or, where a channel cannot edit,
 * the new progress is told once as a reply.
 */
export interface ApprovalOutcome {
  approvalId: string;
  status: string;
  by?: string;
  via?: string;
  at?: string;
  reason?: string;
  /** The prompt as first shown, so a copy can be redrawn whole by any process (the approval engine always sends it). */
  prompt?: ApprovalPrompt;
}

/** Everything a bot reports upward, as one discriminated union. */
export type BotEvent =
  | { type: 'message'; message: InboundMessage }
  /** `pairingCode: null`: the code shown earlier is no longer valid (a new socket registers without one). */
  | { type: 'pairing'; agentId: string; qr?: string; pairingCode?: string | null; paired?: boolean }
  | { type: 'connection'; agentId: string; state: 'open' | 'closed'; detail?: string };

export interface BotAgent {
  readonly id: string;
  readonly channel: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  probe(signal: AbortSignal): Promise<ProbeResult>;
  send(chatId: string, text: string, options?: SendOptions): Promise<MessageRef>;
  promptApproval(chatId: string, prompt: ApprovalPrompt): Promise<MessageRef>;
  updateApproval(ref: MessageRef, outcome: ApprovalOutcome): Promise<void>;
  /** Subscribes to the bot's events; returns the unsubscribe function. */
  onEvent(listener: (event: BotEvent) => void): () => void;
}
