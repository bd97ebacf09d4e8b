import { z } from 'zod';
import { overridesSchema } from '../../config/overrides.js';
import type { PrincipalRole } from '../../storage/records.js';
import { patchAgentSchema, registerAgentSchemaFor } from '../agent-registry.js';
import { listAgentsQuery, maintenanceSchema } from '../routes/agent-routes.js';
import { bulkSchema, createApprovalSchema, decisionSchema, getApprovalQuery, listApprovalsQuery, resultSchema } from '../routes/approval-routes.js';
import { listAuditQuery, verifyAuditQuery } from '../routes/audit-routes.js';
import { listContactsQuery, listMessagesQuery, patchContactSchema, replySchema } from '../routes/contact-routes.js';
import { runnerSchema } from '../routes/runner-routes.js';
import { tokenSchema } from '../routes/token-routes.js';
import {
  agentSchema,
  approvalSchema,
  auditEventSchema,
  auditVerificationSchema,
  configViewSchema,
  contactSchema,
  learnedRuleSchema,
  messageSchema,
  pageOf,
  statusSchema,
  tokenViewSchema,
} from './response-schemas.js';

/** Who may call: nobody needs a token, any token, or these roles (the admin always may). */
export type Access = 'public' | 'token' | readonly PrincipalRole[];

export interface ResponseDoc {
  description: string;
  schema?: z.ZodType;
  /** Default `application/json`. */
  contentType?: string;
  example?: unknown;
}

/** One route of the API as the OpenAPI document describes it; the schemas are the ones the route validates with. */
export interface Operation {
  method: 'get' | 'post' | 'patch' | 'delete';
  /** Express style: `/api/approvals/:id`. */
  path: string;
  tag: string;
  summary: string;
  description?: string;
  access: Access;
  params?: Record<string, string>;
  query?: z.ZodObject;
  body?: z.ZodType;
  bodyExample?: unknown;
  headers?: Array<{ name: string; description: string; required?: boolean; schema: z.ZodType }>;
  /** Success answers, and the errors particular to this route (the common ones are added: see openapi-document.ts). */
  responses: Record<number, ResponseDoc>;
}

const approvalAnswer = z.object({ approval: approvalSchema });
const agentAnswer = z.object({ agent: agentSchema });
const idParam = (what: string) => ({ id: what });
const STAFF: readonly PrincipalRole[] = ['operator'];
const DECIDERS: readonly PrincipalRole[] = ['manager'];
const REQUESTERS: readonly PrincipalRole[] = ['agent'];
const ADMIN: readonly PrincipalRole[] = [];

const exampleApproval = (channel: string) => ({
  approval: {
    id: '01JF3Q8Z7R2M5X9K4T6V0B1C2D',
    code: 'KQZXPM',
    branchId: 'lisboa',
    requesterId: 'refund-bot',
    actionType: 'refund',
    summary: 'Refund €40 to order 1042 (double charge)',
    details: { orderId: '1042', amountEur: 40 },
    payloadHash: '5d41402abc4b2a76b9719d911017c592a5d41402abc4b2a76b9719d911017c5',
    riskLevel: 'medium',
    status: 'pending',
    autonomy: 'assisted',
    deliveries: [{ channel, status: 'sent', at: '2026-12-03T10:00:01.000Z', tier: 'initial' }],
    expiresAt: '2026-12-03T11:00:00.000Z',
    createdAt: '2026-12-03T10:00:00.000Z',
    updatedAt: '2026-12-03T10:00:01.000Z',
  },
});

/** Every route of the REST API (the chat webhooks are added from the channel registry). */
export function apiOperations(channels: readonly string[]): Operation[] {
  const example = exampleApproval(channels[0] ?? 'chat');
  return [
    // --- system
    { method: 'get', path: '/health', tag: 'system', summary: 'Liveness', description: 'The process answers. No token, no I/O.', access: 'public', responses: { 200: { description: 'Alive', schema: z.object({ status: z.literal('ok'), version: z.string(), uptimeSec: z.number().int() }) } } },
    {
      method: 'get',
      path: '/ready',
      tag: 'system',
      summary: 'Readiness',
      description: 'Whether the store takes writes: 200, or 503 while it does not (for load balancers and process managers).',
      access: 'public',
      responses: Object.fromEntries(
        [200, 503].map((status) => [
          status,
          {
            description: status === 200 ? 'Ready' : 'The store does not take writes',
            schema: z.object({ ready: z.boolean(), storage: z.object({ backend: z.enum(['file', 'mongodb']), fallback: z.boolean(), pendingSync: z.number().int(), detail: z.string() }) }),
          },
        ]),
      ),
    },
    { method: 'get', path: '/metrics', tag: 'system', summary: 'Prometheus metrics', access: 'token', responses: { 200: { description: 'Prometheus text exposition format', contentType: 'text/plain', schema: z.string() } } },
    {
      method: 'get',
      path: '/coordination/status',
      tag: 'system',
      summary: 'Every branch with its agents and their health',
      description: 'Kept to the token\'s branches. Has an `ETag`: send `If-None-Match` and get 304 until something in it changes.',
      access: 'token',
      headers: [{ name: 'If-None-Match', description: 'The ETag of the answer you have.', schema: z.string() }],
      responses: { 200: { description: 'The overview', schema: statusSchema }, 304: { description: 'Not changed since the ETag you sent' } },
    },
    { method: 'get', path: '/config', tag: 'config', summary: 'The configuration in force, secrets masked', access: STAFF, responses: { 200: { description: 'The configuration', schema: configViewSchema } } },
    {
      method: 'patch',
      path: '/config',
      tag: 'config',
      summary: 'Change the runtime overrides',
      description: 'A JSON merge patch (RFC 7396: `null` removes a key) of the overrides; everything else needs a restart.',
      access: ADMIN,
      body: overridesSchema,
      bodyExample: { healthIntervalMs: 15000, branches: { lisboa: { autonomy: 'supervised' } } },
      responses: { 200: { description: 'The configuration after the change', schema: configViewSchema } },
    },

    // --- agents
    {
      method: 'post',
      path: '/api/agents',
      tag: 'agents',
      summary: 'Register an action agent (or a remote bot)',
      description: 'Answers the agent\'s bearer token once (stored hashed) and its `callbackSecret`, which signs the webhooks sent to it. Ids are never reused: an id in use or ever used is a 409.',
      access: ADMIN,
      body: registerAgentSchemaFor(channels),
      bodyExample: { id: 'refund-bot', branchId: 'lisboa', name: 'Refund assistant' },
      responses: { 201: { description: 'Registered', schema: z.object({ agent: agentSchema, token: z.string(), callbackSecret: z.string().optional(), note: z.string() }) }, 409: { description: 'The id is taken (or was ever used)' } },
    },
    { method: 'get', path: '/api/agents', tag: 'agents', summary: 'List agents', access: 'token', query: listAgentsQuery, responses: { 200: { description: 'The agents the token may see', schema: z.object({ agents: z.array(agentSchema) }) } } },
    {
      method: 'get',
      path: '/api/agents/:id',
      tag: 'agents',
      summary: 'One agent with its recent checks and uptime',
      access: 'token',
      params: idParam('The agent id'),
      responses: {
        200: {
          description: 'The agent',
          schema: z.object({
            agent: agentSchema,
            uptime24h: z.object({ percent: z.number().nullable(), checks: z.number().int() }),
            recentChecks: z.array(z.object({ at: z.string(), ok: z.boolean(), latencyMs: z.number(), detail: z.string().optional() })),
          }),
        },
      },
    },
    { method: 'patch', path: '/api/agents/:id', tag: 'agents', summary: 'Assign the agent to a team (its autonomy), or clear it', access: ADMIN, params: idParam('The agent id'), body: patchAgentSchema, responses: { 200: { description: 'The agent', schema: agentAnswer }, 409: { description: 'The config file gives this agent its team' } } },
    { method: 'delete', path: '/api/agents/:id', tag: 'agents', summary: 'Remove an API agent and revoke its token', access: ADMIN, params: idParam('The agent id'), responses: { 204: { description: 'Removed' }, 409: { description: 'A config agent: remove it from the file' } } },
    {
      method: 'post',
      path: '/api/agents/:id/heartbeat',
      tag: 'agents',
      summary: '"I am alive"',
      description: 'Only the agent itself (or the admin). An action agent without `healthUrl` is down when silent for two intervals plus retries.',
      access: REQUESTERS,
      params: idParam('The agent id (your own)'),
      responses: { 200: { description: 'Recorded', schema: z.object({ status: agentSchema.shape.status, lastHeartbeatAt: z.string().optional() }) } },
    },
    { method: 'post', path: '/api/agents/:id/restart', tag: 'agents', summary: 'Restart a bot agent now (audited)', access: STAFF, params: idParam('The agent id'), responses: { 200: { description: 'The agent after the restart', schema: agentAnswer } } },
    {
      method: 'post',
      path: '/api/agents/:id/maintenance',
      tag: 'agents',
      summary: 'Pause or resume checks, restarts and alerts (audited)',
      access: STAFF,
      params: idParam('The agent id'),
      body: maintenanceSchema,
      responses: { 200: { description: 'The agent', schema: z.object({ agent: agentSchema.nullable() }) } },
    },
    {
      method: 'post',
      path: '/api/runners',
      tag: 'tokens',
      summary: 'A runner token scoped to `host: remote` branches',
      access: ADMIN,
      body: runnerSchema,
      responses: { 201: { description: 'The token, shown once', schema: z.object({ runner: z.string(), branches: z.array(z.string()), tokenId: z.string(), token: z.string(), note: z.string() }) }, 409: { description: 'The name is taken' } },
    },
    {
      method: 'post',
      path: '/api/tokens',
      tag: 'tokens',
      summary: 'A token for a manager (decides approvals as them) or an operator',
      access: ADMIN,
      body: tokenSchema,
      responses: { 201: { description: 'The token, shown once', schema: z.object({ id: z.string(), role: z.enum(['manager', 'operator']), subject: z.string(), token: z.string(), note: z.string() }) }, 409: { description: 'The subject is taken' } },
    },
    { method: 'get', path: '/api/tokens', tag: 'tokens', summary: 'Every token that authenticates (never the secrets)', access: ADMIN, responses: { 200: { description: 'The tokens', schema: z.object({ tokens: z.array(tokenViewSchema) }) } } },
    {
      method: 'delete',
      path: '/api/tokens/:id',
      tag: 'tokens',
      summary: 'Revoke a token (audited); its live connections close at once',
      access: ADMIN,
      params: idParam('The token\'s public id (12 hex characters, from GET /api/tokens)'),
      responses: { 204: { description: 'Revoked' }, 409: { description: 'The admin token (rotate ADMIN_TOKEN instead), or an id matching several tokens' } },
    },

    // --- approvals
    {
      method: 'post',
      path: '/api/approvals',
      tag: 'approvals',
      summary: 'Request an approval',
      description:
        'Puts the request in front of the branch\'s managers in chat (or decides it by the branch\'s autonomy). Answers at once; wait for the decision with `GET /api/approvals/{id}?waitSec=60`, a signed webhook to `callbackUrl`, or the `/agents` socket. Send an `Idempotency-Key`: the same key and body answer the same approval (200), a different body a 409.',
      access: REQUESTERS,
      body: createApprovalSchema,
      bodyExample: { branchId: 'lisboa', actionType: 'refund', summary: 'Refund €40 to order 1042 (double charge)', details: { orderId: '1042', amountEur: 40 }, riskLevel: 'medium', expiresInSec: 3600 },
      headers: [{ name: 'Idempotency-Key', description: 'Any 1-200 characters, new for each action (a UUID): a retried request with the same key never creates a second approval.', schema: z.string().min(1).max(200) }],
      responses: {
        201: { description: 'Created', schema: approvalAnswer, example },
        200: { description: 'The same Idempotency-Key and body as an earlier request: that approval', schema: approvalAnswer },
        409: { description: 'The Idempotency-Key was used with another body' },
      },
    },
    { method: 'get', path: '/api/approvals', tag: 'approvals', summary: 'List approvals, newest first', access: 'token', query: listApprovalsQuery, responses: { 200: { description: 'A page', schema: pageOf('approvals', approvalSchema) } } },
    {
      method: 'get',
      path: '/api/approvals/rules',
      tag: 'approvals',
      summary: 'Learned auto-approval suggestions and rules',
      access: 'token',
      responses: { 200: { description: 'The rules the token may see', schema: z.object({ rules: z.array(learnedRuleSchema) }) } },
    },
    ...(['accept', 'revoke'] as const).map(
      (action): Operation => ({
        method: 'post',
        path: `/api/approvals/rules/:id/${action}`,
        tag: 'approvals',
        summary: action === 'accept' ? 'Turn a suggestion into a rule (it then auto-approves)' : 'Revoke a rule',
        description: 'Only the admin, or a manager who may decide every learnable risk (low, medium, high) at that branch.',
        access: DECIDERS,
        params: idParam('The rule id'),
        responses: { 200: { description: 'The rule', schema: z.object({ rule: learnedRuleSchema }) } },
      }),
    ),
    {
      method: 'get',
      path: '/api/approvals/:id',
      tag: 'approvals',
      summary: 'One approval; long-polls with waitSec',
      description: 'By id or 6-letter code. An agent sees only its own requests; outside the token\'s scope the answer is 404, as for an unknown id.',
      access: 'token',
      params: idParam('The approval id or its code'),
      query: getApprovalQuery,
      responses: { 200: { description: 'The approval (decided, or still pending when waitSec ran out)', schema: approvalAnswer, example } },
    },
    {
      method: 'post',
      path: '/api/approvals/:id/decision',
      tag: 'approvals',
      summary: 'Approve or reject',
      access: DECIDERS,
      params: idParam('The approval id or its code'),
      body: decisionSchema,
      responses: {
        200: { description: 'Decided', schema: approvalAnswer },
        202: { description: 'Recorded: more approvers are needed', schema: z.object({ approval: approvalSchema, remaining: z.number().int() }) },
        409: { description: 'Too late: already decided (says who, how and when; `details.approval`)' },
      },
    },
    {
      method: 'post',
      path: '/api/approvals/bulk',
      tag: 'approvals',
      summary: 'Decide several approvals, with a result per id',
      access: DECIDERS,
      body: bulkSchema,
      responses: {
        200: {
          description: 'A result per id',
          schema: z.object({
            results: z.array(
              z.object({
                id: z.string(),
                result: z.enum(['decided', 'recorded', 'too_late', 'error']),
                status: z.string().optional(),
                error: z.union([z.string(), z.object({ code: z.string(), message: z.string() })]).optional(),
              }),
            ),
          }),
        },
      },
    },
    { method: 'post', path: '/api/approvals/:id/cancel', tag: 'approvals', summary: 'Withdraw a pending request', access: REQUESTERS, params: idParam('The approval id or its code'), responses: { 200: { description: 'Cancelled', schema: approvalAnswer }, 409: { description: 'No longer pending' } } },
    {
      method: 'post',
      path: '/api/approvals/:id/result',
      tag: 'approvals',
      summary: 'Report what happened after the approval',
      description: 'After acting on an approved request: `executed` or `failed`.',
      access: REQUESTERS,
      params: idParam('The approval id or its code'),
      body: resultSchema,
      bodyExample: { success: true, result: { refundId: 'R-88' } },
      responses: { 200: { description: 'Recorded', schema: approvalAnswer }, 409: { description: 'Not approved, or already reported' } },
    },

    // --- audit
    { method: 'get', path: '/api/audit', tag: 'audit', summary: 'Audit events, newest first', access: STAFF, query: listAuditQuery, responses: { 200: { description: 'A page, with the chain\'s head', schema: pageOf('events', auditEventSchema).extend({ head: auditVerificationSchema.shape.head }) } } },
    {
      method: 'get',
      path: '/api/audit/verify',
      tag: 'audit',
      summary: 'Recompute the hash and HMAC chain',
      access: STAFF,
      query: verifyAuditQuery,
      responses: { 200: { description: 'Intact', schema: auditVerificationSchema }, 409: { description: 'Broken: the first broken link', schema: auditVerificationSchema } },
    },

    // --- contacts
    { method: 'get', path: '/api/contacts', tag: 'contacts', summary: 'Customers, newest activity first', access: ['operator', 'manager'], query: listContactsQuery, responses: { 200: { description: 'A page', schema: pageOf('contacts', contactSchema) } } },
    { method: 'get', path: '/api/contacts/:id', tag: 'contacts', summary: 'One customer and their conversation', access: ['operator', 'manager'], params: idParam('The contact id'), responses: { 200: { description: 'The contact', schema: z.object({ contact: contactSchema }) } } },
    {
      method: 'get',
      path: '/api/contacts/:id/messages',
      tag: 'contacts',
      summary: 'A customer\'s history, newest first',
      access: ['operator', 'manager'],
      params: idParam('The contact id'),
      query: listMessagesQuery,
      responses: { 200: { description: 'A page', schema: pageOf('messages', messageSchema).extend({ nextOffset: z.number().int().nullable(), nextBefore: z.string().nullable() }) } },
    },
    {
      method: 'post',
      path: '/api/contacts/:id/reply',
      tag: 'contacts',
      summary: 'Answer a customer as staff',
      access: ['operator', 'manager'],
      params: idParam('The contact id'),
      body: replySchema,
      responses: { 201: { description: 'Sent', schema: z.object({ message: messageSchema }) }, 502: { description: 'The chat platform did not take it' } },
    },
    ...(['handoff', 'resolve'] as const).map(
      (action): Operation => ({
        method: 'post',
        path: `/api/contacts/:id/${action}`,
        tag: 'contacts',
        summary: action === 'handoff' ? 'Take the conversation over from the bot' : 'Hand the conversation back to the bot',
        access: ['operator', 'manager'],
        params: idParam('The contact id'),
        responses: { 200: { description: 'The contact', schema: z.object({ contact: contactSchema, state: z.enum(['bot', 'pending_human']) }) } },
      }),
    ),
    { method: 'patch', path: '/api/contacts/:id', tag: 'contacts', summary: 'Opt-out, tags, name', access: ['operator', 'manager'], params: idParam('The contact id'), body: patchContactSchema, responses: { 200: { description: 'The contact', schema: z.object({ contact: contactSchema }) } } },
  ];
}
