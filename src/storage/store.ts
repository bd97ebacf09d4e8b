import type { Collection, CollectionSpec, StoredDoc } from './collection.js';
import type { WriteUnits } from './write-unit.js';
import type {
  AgentRecord,
  ApiTokenRecord,
  OutboxRecord,
  PromptJobRecord,
  ApprovalRecord,
  AuditEventRecord,
  ContactRecord,
  ConversationRecord,
  HealthCheckRecord,
  MessageRecord,
  SettingRecord,
} from './records.js';

/**
 * Every collection the coordinator stores, with the fields it is queried by.
 * A new repository is one line here and one in `StoreCollections`.
 */
export const COLLECTION_SPECS = {
  agents: { name: 'agents', indexes: [['branchId'], ['status']] },
  // Pruned by id (ids start with their creation time: see HealthMonitor.prune), so no index on `at` alone.
  healthChecks: { name: 'health_checks', indexes: [['agentId', 'at']] },
  approvals: {
    name: 'approvals',
    indexes: [['branchId', 'status'], ['status', 'expiresAt'], ['code'], ['createdAt']],
    unique: [['requesterId', 'idempotencyKey']],
  },
  auditEvents: { name: 'audit_events', indexes: [['approvalId'], ['branchId'], ['agentId'], ['at']], unique: [['seq']] },
  contacts: { name: 'contacts', indexes: [['branchId', 'lastSeenAt'], ['branchId', 'channel', 'phone']], unique: [['branchId', 'channel', 'externalId']] },
  messages: { name: 'messages', indexes: [['contactId', 'at'], ['branchId', 'at'], ['contactId', 'externalId']] },
  conversations: { name: 'conversations', indexes: [['branchId', 'state'], ['state', 'lastMessageAt'], ['lastMessageAt']], unique: [['contactId']] },
  settings: { name: 'settings' },
  apiTokens: { name: 'api_tokens', indexes: [['subject']] },
  outbox: { name: 'outbox', indexes: [['status', 'nextAttemptAt']] },
  prompts: { name: 'prompt_jobs', indexes: [['status', 'nextAttemptAt'], ['approvalId'], ['branchId', 'status'], ['agentId', 'status']] },
} satisfies Record<string, CollectionSpec>;

export type CollectionKey = keyof typeof COLLECTION_SPECS;

export interface StoreCollections {
  agents: Collection<AgentRecord>;
  healthChecks: Collection<HealthCheckRecord>;
  approvals: Collection<ApprovalRecord>;
  auditEvents: Collection<AuditEventRecord>;
  contacts: Collection<ContactRecord>;
  messages: Collection<MessageRecord>;
  conversations: Collection<ConversationRecord>;
  settings: Collection<SettingRecord>;
  apiTokens: Collection<ApiTokenRecord>;
  outbox: Collection<OutboxRecord>;
  prompts: Collection<PromptJobRecord>;
}

export interface StoreState {
  /** Which backend answers right now. */
  backend: 'file' | 'mongodb';
  ready: boolean;
  /** True when MongoDB is configured but the file store is standing in for it. */
  fallback: boolean;
  detail: string;
  /** Writes made on the file store still waiting to be replayed into MongoDB. */
  pendingSync?: number;
}

/** The one storage interface: typed collections plus lifecycle. */
export interface Store extends StoreCollections {
  state(): StoreState;
  /**
   * Collections of a module's own (a channel's state), by the names and
   * indexes it declares: opened on first use, the same objects every time.
   * Names must not clash with the store's own or another namespace's.
   */
  namespace(namespace: string, specs: Readonly<Record<string, CollectionSpec>>): { collection<T extends StoredDoc>(name: string): Collection<T> };
  /**
   * True where a write is applied — seen by every later read, in call order —
   * when its method is called, and its promise settles once it is durable or
   * failed (the file store's group commit). A caller that must order writes
   * (the audit chain) may then issue the next one without waiting for the
   * disk. Absent: wait for each write's promise.
   */
  readonly appliesWritesAtCall?: boolean;
  /**
   * Where offered (the file store), the writes of one operation are made durable
   * together: see write-unit.ts. Callers use `inWriteUnit` and `unitDurable`.
   */
  readonly units?: WriteUnits;
  /**
   * On a store that applies writes at the call: resolves once every write applied so far is
   * durable. Awaited before an answer built from a read of what others wrote (an idempotent
   * replay, "already decided"), which could otherwise show a write a crash would lose.
   */
  barrier?(): Promise<void>;
  close(): Promise<void>;
}

export const COLLECTION_KEYS = Object.keys(COLLECTION_SPECS) as CollectionKey[];
