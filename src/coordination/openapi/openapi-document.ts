import { z } from 'zod';
import { webhookPath, type ChannelFactory } from '../../bots/channel-registry.js';
import { apiOperations, type Access, type Operation, type ResponseDoc } from './api-operations.js';
import { errorSchema } from './response-schemas.js';

type Json = Record<string, unknown>;

const TAGS = [
  { name: 'approvals', description: 'Ask people before acting: requests, long-poll, decisions, results. The way in for agents.' },
  { name: 'agents', description: 'Action agents and bots: registration, health, heartbeats, maintenance.' },
  { name: 'system', description: 'Liveness, readiness, metrics and the coordination overview.' },
  { name: 'config', description: 'The configuration in force and its runtime overrides.' },
  { name: 'tokens', description: 'Bearer tokens for managers, operators and runners (admin only).' },
  { name: 'audit', description: 'The tamper-evident audit log and its verification.' },
  { name: 'contacts', description: 'Customers, their history, staff replies and hand-offs.' },
  { name: 'agent kit', description: 'This document, its reference page and the MCP endpoint.' },
  { name: 'chat webhooks', description: 'Called by the chat platforms themselves (each verified by the platform\'s own signature), not by API clients.' },
];

const ERRORS: Record<number, string> = {
  400: 'Invalid input: `error.details.issues` names each field (also a malformed path escape, JSON nested deeper than 32 levels, or a body the parser cannot read)',
  401: 'Missing, invalid or revoked bearer token',
  403: 'The token\'s role may not do this',
  404: 'Unknown id, or one outside what the token may see (the same answer)',
  413: 'Body larger than the limit (BODY_LIMIT)',
  429: 'Too many requests from this client: retry after the `Retry-After` header',
  503: 'The store is not taking writes (see /ready)',
};

/** Converts zod schemas to JSON Schema 2020-12 (OpenAPI 3.1's dialect), collecting named ones (`.meta({id})`) as components. */
class SchemaSet {
  readonly components: Record<string, Json> = {};

  convert(schema: z.ZodType, io: 'input' | 'output'): Json {
    const json = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as Json;
    const { $schema: _dialect, $defs, ...rest } = json;
    for (const [name, def] of Object.entries(($defs ?? {}) as Record<string, Json>)) this.components[name] ??= relink(def);
    return relink(rest);
  }
}

/** `#/$defs/X` (zod's) → `#/components/schemas/X` (the document's). */
function relink<T>(value: T): T {
  if (Array.isArray(value)) return value.map(relink) as T;
  if (value && typeof value === 'object') {
    const out: Json = {};
    for (const [k, v] of Object.entries(value)) out[k] = k === '$ref' && typeof v === 'string' ? v.replace('#/$defs/', '#/components/schemas/') : relink(v);
    return out as T;
  }
  return value;
}

function who(access: Access): string {
  if (access === 'public') return 'Anyone (no token).';
  if (access === 'token') return 'Any token (answers kept to what the token may see).';
  if (access.length === 0) return 'The admin token only.';
  return `A token of role ${access.join(' or ')}, or the admin token.`;
}

function mediaOf(doc: ResponseDoc, schemas: SchemaSet): Json {
  return { [doc.contentType ?? 'application/json']: { schema: doc.schema ? schemas.convert(doc.schema, 'output') : {}, ...(doc.example !== undefined ? { example: doc.example } : {}) } };
}

function operationObject(op: Operation, schemas: SchemaSet): Json {
  const parameters: Json[] = [];
  for (const [name, description] of Object.entries(op.params ?? {})) parameters.push({ name, in: 'path', required: true, description, schema: { type: 'string' } });
  if (op.query) {
    const json = schemas.convert(op.query, 'input');
    const required = new Set((json.required as string[] | undefined) ?? []);
    for (const [name, schema] of Object.entries((json.properties ?? {}) as Record<string, Json>)) {
      const { description, ...rest } = schema;
      parameters.push({ name, in: 'query', required: required.has(name), ...(description ? { description } : {}), schema: rest });
    }
  }
  for (const h of op.headers ?? []) parameters.push({ name: h.name, in: 'header', required: h.required ?? false, description: h.description, schema: schemas.convert(h.schema, 'input') });

  const responses: Json = {};
  for (const [status, doc] of Object.entries(op.responses)) {
    const isError = Number(status) >= 400;
    responses[status] = { description: doc.description, ...(Number(status) === 204 || Number(status) === 304 ? {} : { content: mediaOf(isError && !doc.schema ? { ...doc, schema: errorSchema } : doc, schemas) }) };
  }
  const common = [
    ...(op.body || op.query || op.params ? [400] : []),
    ...(op.access === 'public' ? [] : [401]),
    ...(Array.isArray(op.access) ? [403] : []),
    ...(op.params ? [404] : []),
    ...(op.body ? [413] : []),
    ...(op.path === '/health' || op.path === '/ready' ? [] : [429]),
    ...(op.method === 'get' ? [] : [503]),
  ];
  for (const status of common) responses[status] ??= { description: ERRORS[status], content: mediaOf({ description: '', schema: errorSchema }, schemas) };

  const body = op.body ? { requestBody: { required: true, content: { 'application/json': { schema: schemas.convert(op.body, 'input'), ...(op.bodyExample !== undefined ? { example: op.bodyExample } : {}) } } } } : {};
  return {
    operationId: operationId(op),
    tags: [op.tag],
    summary: op.summary,
    description: [op.description, `**Who:** ${who(op.access)}`].filter(Boolean).join('\n\n'),
    ...(op.access === 'public' ? { security: [] } : {}),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...body,
    responses,
  };
}

/** `post /api/approvals/:id/decision` → `postApiApprovalsIdDecision`: stable, unique, usable as a function name. */
export function operationId(op: Pick<Operation, 'method' | 'path'>): string {
  const words = op.path.split(/[/:._-]+/).filter(Boolean);
  return op.method + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
}

/** The chat platforms' webhook routes, from the channel registry (their bodies are the platforms' own). */
export function webhookOperations(channels: readonly ChannelFactory[]): Operation[] {
  return channels.flatMap((factory) =>
    (factory.webhooks ?? []).map(
      (route): Operation => ({
        method: route.method === 'get' ? 'get' : 'post',
        path: webhookPath(factory.channel, route),
        tag: 'chat webhooks',
        summary: `${factory.label} calls this`,
        description: `Called by ${factory.label}, verified by its own signature (not a bearer token); the body is the platform's.${route.method === 'use' ? ' Every method and sub-path goes to the platform SDK\'s own router.' : ''}`,
        access: 'public',
        ...(route.path.includes(':agentId') ? { params: { agentId: 'The id of the bot agent the platform calls' } } : {}),
        responses: { 200: { description: 'Taken', contentType: 'application/json', schema: z.unknown() } },
      }),
    ),
  );
}

/** The routes that serve this kit itself. */
export function kitOperations(): Operation[] {
  return [
    { method: 'get', path: '/openapi.json', tag: 'agent kit', summary: 'This OpenAPI 3.1 document', access: 'public', responses: { 200: { description: 'The document', schema: z.looseObject({ openapi: z.string() }) } } },
    { method: 'get', path: '/docs/api', tag: 'agent kit', summary: 'The API reference as a page', access: 'public', responses: { 200: { description: 'HTML', contentType: 'text/html', schema: z.string() } } },
    {
      method: 'post',
      path: '/mcp',
      tag: 'agent kit',
      summary: 'MCP over Streamable HTTP',
      description:
        'The Model Context Protocol endpoint (JSON-RPC 2.0 messages, answered as JSON or as a `text/event-stream` carrying progress notifications). Tools: `request_approval`, `get_approval`, `cancel_approval`, `report_result`, `send_customer_message`, `coordination_status`. Use an MCP client library rather than calling it by hand.',
      access: ['agent'],
      body: z.unknown().describe('A JSON-RPC 2.0 request, notification or batch.'),
      responses: { 200: { description: 'A JSON-RPC answer, or an event stream of messages ending with it', schema: z.unknown() }, 202: { description: 'A notification or response was taken' } },
    },
  ];
}

export interface DocumentOptions {
  version: string;
  channels: readonly ChannelFactory[];
  /** More operations mounted elsewhere (the MCP endpoint). */
  extra?: readonly Operation[];
}

/** Every operation the document describes, in its order. */
export function allOperations(options: Pick<DocumentOptions, 'channels' | 'extra'>): Operation[] {
  return [...apiOperations(options.channels.map((c) => c.channel)), ...(options.extra ?? []), ...kitOperations(), ...webhookOperations(options.channels)];
}

/** The OpenAPI 3.1 document of the API, built from the zod schemas the routes validate with. */
export function openApiDocument(options: DocumentOptions): Json {
  const schemas = new SchemaSet();
  const paths: Record<string, Json> = {};
  for (const op of allOperations(options)) {
    const path = op.path.replace(/:([A-Za-z]+)/g, '{$1}');
    paths[path] = { ...(paths[path] ?? {}), [op.method]: operationObject(op, schemas) };
  }
  return {
    openapi: '3.1.1',
    info: {
      title: 'Chat-ops coordinator API',
      version: options.version,
      description:
        'JSON over HTTP. `Authorization: Bearer <token>` on everything but `/health`, `/ready` and this document. Errors are `{"error": {"code", "message", "details?"}}`; branch on `code`. Every answer carries `x-request-id`. Every read is kept to the token\'s scope: outside it the answer is 404, as for an unknown id.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: '/', description: 'This coordinator' }],
    tags: TAGS,
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'An agent, manager, operator, runner or the admin token.' } },
      schemas: Object.fromEntries(Object.entries(schemas.components).sort(([a], [b]) => a.localeCompare(b))),
    },
  };
}
