import { z } from 'zod';
import { RISK_LEVELS } from '../../config/config-schema.js';

/**
 * What the API answers, as zod schemas: the OpenAPI document's response
 * schemas (`openapi-document.ts`). They describe, they do not validate at run
 * time; the suite checks real answers against them (test/coordination/openapi.test.ts),
 * so a field added to an answer and not here fails a test. Objects are closed
 * (`additionalProperties: false`) where the API's shape is ours; open where it
 * passes through what a caller or the config gave (details, results, config).
 */

const time = () => z.string().describe('ISO-8601 time (UTC)');
const id = (what: string) => z.string().describe(what);
const open = (description: string) => z.looseObject({}).describe(description);

export const errorSchema = z
  .object({
    error: z.object({
      code: z
        .enum(['validation_failed', 'unauthorized', 'forbidden', 'not_found', 'conflict', 'payload_too_large', 'rate_limited', 'store_unavailable', 'delivery_failed', 'internal_error'])
        .describe('Branch on this, never on the message.'),
      message: z.string().describe('For people: what went wrong and what to do.'),
      details: z
        .looseObject({ issues: z.array(z.object({ path: z.string().describe('The field, e.g. `details.text` or `limit`.'), message: z.string() })).optional() })
        .optional()
        .describe('validation_failed: `issues`, one per field and problem; conflict: what it conflicts with (a too-late decision carries the decided `approval`).'),
    }),
  })
  .meta({ id: 'Error' });

const decision = z
  .object({
    outcome: z.enum(['approved', 'rejected', 'expired', 'cancelled']),
    by: z.string().describe('The manager id, `admin`, `policy` (an autonomy rule), `system` (expiry) or the requester (cancel).'),
    byName: z.string().optional().describe('The manager as the prompt names them.'),
    via: z.string().describe('Where it was decided: the chat channel\'s name, or `api`, `dashboard`, `policy`, `timeout`, …'),
    at: time(),
    reason: z.string().optional(),
    rule: z.string().optional().describe('For policy decisions: the rule that allowed it.'),
    payloadHash: z.string().optional().describe('The approval\'s `payloadHash` the decision was taken on (what the manager was shown).'),
  })
  .meta({ id: 'Decision' });

const delivery = z.object({
  managerId: z.string().optional(),
  channel: z.string(),
  agentId: z.string().optional(),
  chatId: z.string().optional(),
  messageId: z.string().optional(),
  status: z.enum(['sent', 'failed']),
  error: z.string().optional(),
  at: time(),
  tier: z.enum(['initial', 'escalation']).optional(),
  step: z.number().int().optional(),
});

export const approvalSchema = z
  .object({
    id: id('The approval id (stable; also accepted where a code is).'),
    code: z.string().describe('Six letters people can type or say ("approve ABCDEF").'),
    version: z.number().int().optional(),
    branchId: z.string(),
    teamId: z.string().optional(),
    requesterId: z.string().describe('The agent (or `admin`) that asked.'),
    actionType: z.string(),
    summary: z.string(),
    details: z.unknown().optional(),
    payloadHash: z.string().optional().describe('SHA-256 (hex) of the canonical JSON of `{actionType, details}`: what is approved. Check it against the payload you are about to run.'),
    preview: z.string().optional().describe('For built-in actions (message.send): what it will do, in words.'),
    riskLevel: z.enum(RISK_LEVELS),
    status: z.enum(['pending', 'approved', 'rejected', 'expired', 'cancelled', 'executed', 'failed']),
    autonomy: z.string().describe('The autonomy level that decided how it was routed (or auto-approved).'),
    deliveries: z.array(delivery).describe('Where the prompt went. Requesters see channel, status, time and tier only.'),
    unreached: z
      .array(z.object({ managerId: z.string().optional(), tier: z.enum(['initial', 'escalation']), step: z.number().int().optional(), state: z.enum(['queued', 'waiting', 'retrying']), reason: z.string().optional(), since: time() }))
      .optional()
      .describe('Managers the prompt has not reached yet, and why (requesters: not who).'),
    decision: decision.optional(),
    approvals: z.array(z.object({ by: z.string(), via: z.string(), at: time() })).optional().describe('With requiredApprovals > 1: the approvals gathered so far.'),
    expiresAt: time(),
    escalation: open('Where the approval is in its escalation chain.').optional(),
    onTimeout: z.object({ action: z.enum(['expire', 'reject']), source: z.string() }).optional(),
    result: z.object({ success: z.boolean(), error: z.string().optional(), result: z.unknown().optional(), at: time() }).optional().describe('What the requester reported after acting.'),
    callbackUrl: z.string().optional(),
    idempotencyKey: z.string().optional(),
    requiredApprovals: z.number().int().optional(),
    createdAt: time(),
    updatedAt: time(),
  })
  .meta({ id: 'Approval' });

const checkSummary = z.object({ at: time(), ok: z.boolean(), latencyMs: z.number(), detail: z.string().optional() });

export const agentSchema = z
  .object({
    id: z.string(),
    branchId: z.string(),
    kind: z.enum(['bot', 'action']),
    channel: z.string().optional(),
    name: z.string().optional(),
    status: z.enum(['pending', 'up', 'down', 'maintenance', 'blocked']).describe('blocked: an agent it depends on is down.'),
    statusReason: z.string().optional(),
    statusSince: time().optional(),
    dependsOn: z.array(z.string()),
    lastCheck: checkSummary.optional(),
    registeredAt: time(),
    source: z.enum(['config', 'api']),
    remote: z.boolean().optional(),
    healthUrl: z.string().optional().describe('Shown to operator and admin tokens only.'),
    teamId: z.string().optional(),
    lastHeartbeatAt: time().optional(),
  })
  .meta({ id: 'Agent' });

const counts = z.record(z.string(), z.number().int()).describe('Agents by status, and `total`.');
export const statusSchema = z
  .object({
    business: z.string(),
    storage: z.object({ backend: z.enum(['file', 'mongodb']), ready: z.boolean(), fallback: z.boolean(), detail: z.string(), pendingSync: z.number().int().optional() }),
    branches: z.array(
      z.object({
        id: z.string(),
        name: z.string(),
        timezone: z.string().optional(),
        autonomy: z.string().optional(),
        managers: z.number().int().optional(),
        unknownBranch: z.literal(true).optional().describe('Agents stored for a branch no longer in the config.'),
        agents: z.array(
          z.object({
            id: z.string(),
            kind: z.enum(['bot', 'action']),
            channel: z.string().optional(),
            status: z.enum(['pending', 'up', 'down', 'maintenance', 'blocked']),
            reason: z.string().optional(),
            since: time().optional(),
            lastCheck: checkSummary.nullable(),
            remote: z.boolean(),
          }),
        ),
        totals: counts,
      }),
    ),
    totals: counts,
  })
  .meta({ id: 'CoordinationStatus' });

export const tokenViewSchema = z
  .object({
    id: z.string().describe('The first 12 hex characters of the token\'s SHA-256: never the secret.'),
    role: z.enum(['admin', 'operator', 'manager', 'agent', 'runner']),
    subject: z.string(),
    label: z.string().optional(),
    scope: z.array(z.string()).optional(),
    createdAt: time().optional(),
    revocable: z.boolean(),
  })
  .meta({ id: 'Token' });

export const auditEventSchema = z
  .object({
    id: z.string(),
    seq: z.number().int(),
    at: time(),
    type: z.string(),
    actor: z.string(),
    branchId: z.string().optional(),
    agentId: z.string().optional(),
    approvalId: z.string().optional(),
    data: z.unknown().optional(),
    prevHash: z.string(),
    hash: z.string(),
    mac: z.string().optional(),
    keyId: z.string().optional(),
  })
  .meta({ id: 'AuditEvent' });

const auditHead = z.object({ seq: z.number().int(), hash: z.string(), ref: z.string().describe('`<seq>:<hash>`: keep it and pass it back as `?head=`.') }).nullable();
export const auditVerificationSchema = z
  .object({
    ok: z.boolean(),
    brokenAt: z.number().int().optional().describe('When not ok: the seq of the first broken link.'),
    reason: z.string().optional(),
    events: z.number().int(),
    head: auditHead,
    hmac: z.object({ keyId: z.string().nullable(), from: z.number().int().nullable(), events: z.number().int() }),
    sha256Only: z.number().int(),
    checked: z.array(z.object({ seq: z.number().int(), hash: z.string(), source: z.enum(['caller', 'coordinator']) })),
  })
  .meta({ id: 'AuditVerification' });

export const learnedRuleSchema = z
  .object({
    id: z.string(),
    branchId: z.string(),
    actionType: z.string(),
    status: z.enum(['suggested', 'active', 'revoked']),
    streak: z.number().int(),
    suggestedAt: time(),
    decidedBy: z.string().optional(),
    decidedAt: time().optional(),
  })
  .meta({ id: 'LearnedRule' });

const conversationSummary = z.object({ state: z.enum(['bot', 'pending_human']), reason: z.string().optional(), lastMessageAt: time().optional(), lastText: z.string().optional(), agentId: z.string().optional() }).nullable();
export const contactSchema = z
  .object({
    id: z.string(),
    branchId: z.string(),
    channel: z.string(),
    externalId: z.string(),
    phone: z.string().optional(),
    name: z.string().optional(),
    nameByStaff: z.boolean().optional(),
    firstSeenAt: time(),
    lastSeenAt: time(),
    optedOut: z.boolean(),
    tags: z.array(z.string()),
    conversation: conversationSummary,
  })
  .meta({ id: 'Contact' });

export const messageSchema = z
  .object({
    id: z.string(),
    contactId: z.string(),
    branchId: z.string(),
    channel: z.string(),
    direction: z.enum(['in', 'out']),
    text: z.string(),
    at: time(),
    handledBy: z.string().optional().describe('`bot`, `staff:<name>`, `agent:<id> via approval <id>`; inbound: the customer.'),
    conversationId: z.string().optional(),
    externalId: z.string().optional(),
    agentId: z.string().optional(),
    truncated: z.boolean().optional(),
    status: z.enum(['sent', 'failed', 'suppressed']).optional(),
    error: z.string().optional(),
  })
  .meta({ id: 'Message' });

export const pageOf = <T extends z.ZodType>(key: string, item: T) =>
  z.object({ [key]: z.array(item), total: z.number().int(), limit: z.number().int(), offset: z.number().int() });

export const configViewSchema = open('The configuration in force, secrets masked, with the runtime overrides.').meta({ id: 'ConfigView' });
