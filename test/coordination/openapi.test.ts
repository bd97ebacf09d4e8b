import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { sha256 } from '../../src/core/ids.js';
import { fakeChannels, type FakeBot } from '../helpers/fake-channel.js';
import { until } from '../helpers/until.js';
import { routeTable } from '../hostile/route-table.js';
import { startTestCoordinator, type TestCoordinator } from '../helpers/test-coordinator.js';

const YAML = `
branches:
  - id: lisboa
    name: Lisboa
    managers:
      - { id: ana, name: Ana, role: owner, telegram: 1001 }
    agents:
      - { id: lis-tg, channel: telegram, token: t }
  - id: porto
    name: Porto
    managers:
      - { id: carla, name: Carla, role: owner, telegram: 2001 }
    agents:
      - { id: porto-tg, channel: telegram, token: t2 }
`;
const AGENT = 'agent-token-openapi-0001';
const ANA = 'manager-token-ana-openapi';

type Json = Record<string, unknown>;
let t: TestCoordinator;
let bots: Map<string, unknown>;
let doc: Json;
let ajv: Ajv2020;
/** Every (method, documented path, status) a real answer was checked against. */
const checked = new Set<string>();

/** The documented operation a request path falls under: `/api/approvals/abc/decision` → `/api/approvals/{id}/decision`. */
function operationFor(method: string, path: string): { template: string; op: Json } {
  const bare = path.split('?')[0]!;
  const paths = doc.paths as Record<string, Record<string, Json>>;
  // Literal segments win over parameters (`/api/approvals/rules` before `/api/approvals/{id}`).
  const candidates = Object.keys(paths)
    .filter((template) => new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(bare) && paths[template]![method])
    .sort((a, b) => a.split('{').length - b.split('{').length);
  if (candidates.length === 0) throw new Error(`${method.toUpperCase()} ${bare} is not in the OpenAPI document`);
  return { template: candidates[0]!, op: paths[candidates[0]!]![method]! };
}

/** A real request whose answer must be one the document lists for it, with a body matching that answer's schema. */
async function call(path: string, init: Parameters<TestCoordinator['call']>[1] = {}) {
  const method = (init.method ?? 'GET').toLowerCase();
  const res = await t.call(path, init);
  const { template, op } = operationFor(method, path);
  const answer = (op.responses as Record<string, Json>)[String(res.status)];
  if (!answer) throw new Error(`${method.toUpperCase()} ${template} answered ${res.status}, which the document does not list (body: ${JSON.stringify(res.body).slice(0, 300)})`);
  const media = answer.content as Record<string, Json> | undefined;
  if (media) {
    const type = (res.headers.get('content-type') ?? '').split(';')[0]!;
    expect(Object.keys(media)).toContain(type);
    const validate = ajv.compile({ ...(media[type]!.schema as Json), $defs: undefined, components: doc.components });
    if (!validate(res.body)) throw new Error(`${method.toUpperCase()} ${template} ${res.status}: the body does not match the document: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(res.body).slice(0, 600)}`);
  } else {
    expect(res.body).toBe('');
  }
  checked.add(`${method.toUpperCase()} ${template} ${res.status}`);
  return res;
}

beforeAll(async () => {
  const fake = fakeChannels();
  bots = fake.bots as Map<string, unknown>;
  t = await startTestCoordinator({ yaml: YAML, channels: fake.registry });
  const now = new Date().toISOString();
  await t.running.store.agents.insert({ id: 'refunds', branchId: 'lisboa', kind: 'action', status: 'up', dependsOn: [], registeredAt: now, source: 'api' });
  await t.running.store.apiTokens.insert({ id: sha256(AGENT), role: 'agent', subject: 'refunds', createdAt: now });
  await t.running.store.apiTokens.insert({ id: sha256(ANA), role: 'manager', subject: 'ana', createdAt: now });
  const res = await t.call('/openapi.json', { token: null });
  expect(res.status).toBe(200);
  doc = res.body as Json;
  ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats.default(ajv);
  // Schemas reference `#/components/schemas/X`: each compiled schema carries the components beside it.
}, 30_000);
afterAll(async () => {
  await t?.close();
});

describe('the OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    expect(doc.openapi).toBe('3.1.1');
    const result = await new Validator().validate(doc as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('lists exactly the routes the API serves (a route added without its description fails here)', () => {
    const served = routeTable(t.running.coordinator.api)
      .filter((r) => r.method !== 'ALL' && r.method !== 'HEAD')
      .map((r) => `${r.method} ${r.path.replace(/:([A-Za-z]+)/g, '{$1}')}`);
    const documented = Object.entries(doc.paths as Record<string, Json>).flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`));
    // Mounted with `use` (every method, the platform SDK's router): documented as the POST the platform sends.
    const mounts = routeTable(t.running.coordinator.api)
      .filter((r) => r.method === 'ALL')
      .map((r) => `POST ${r.path.replace(/\/\*$/, '').replace(/:([A-Za-z]+)/g, '{$1}')}`);
    expect(new Set(documented)).toEqual(new Set([...served, ...mounts]));
  });

  it('describes each operation: who may call, its errors, and the bodies from the routes\' own schemas', () => {
    const create = (doc.paths as Record<string, Record<string, Json>>)['/api/approvals']!.post!;
    expect(create.description).toMatch(/role agent/);
    const body = ((create.requestBody as Json).content as Record<string, Json>)['application/json']!.schema as Json;
    expect(body.required).toEqual(['branchId', 'actionType', 'summary']);
    expect((body.properties as Record<string, Json>).riskLevel!.enum).toEqual(['low', 'medium', 'high', 'critical']);
    expect(Object.keys(create.responses as Json)).toEqual(expect.arrayContaining(['200', '201', '400', '401', '403', '409', '413', '429', '503']));
    const list = (doc.paths as Record<string, Record<string, Json>>)['/api/approvals']!.get!;
    expect((list.parameters as Json[]).find((p) => p.name === 'limit')).toMatchObject({ in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 500, default: 50 } });
    expect((doc.paths as Record<string, Json>)['/health']).toMatchObject({ get: { security: [] } });
  });

  it('is readable as a page served by the coordinator, without any outside script', async () => {
    const res = await t.call('/docs/api', { token: null });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    const html = String(res.body);
    expect(html).toContain('POST</span> <code>/api/approvals</code>');
    expect(html).toContain('id="schema-Approval"');
    expect(html).not.toMatch(/<script|https?:\/\/(?!json-schema)/);
  });
});

describe('real answers match the document', () => {
  it('approvals, from request to result, and their errors', async () => {
    const created = await call('/api/approvals', { method: 'POST', token: AGENT, headers: { 'idempotency-key': 'k-1' }, json: { branchId: 'lisboa', actionType: 'refund', summary: 'Refund 20 EUR', details: { order: 1 }, riskLevel: 'medium' } });
    expect(created.status).toBe(201);
    const id = created.body.approval.id as string;
    expect((await call('/api/approvals', { method: 'POST', token: AGENT, headers: { 'idempotency-key': 'k-1' }, json: { branchId: 'lisboa', actionType: 'refund', summary: 'Refund 20 EUR', details: { order: 1 }, riskLevel: 'medium' } })).status).toBe(200);
    expect((await call('/api/approvals', { method: 'POST', token: AGENT, headers: { 'idempotency-key': 'k-1' }, json: { branchId: 'lisboa', actionType: 'refund', summary: 'Refund 30 EUR' } })).status).toBe(409);
    expect((await call('/api/approvals', { method: 'POST', token: AGENT, json: { branchId: 'lisboa', actionType: 'Refund!', summary: '' } })).status).toBe(400);
    const anonymous = await call('/api/approvals', { method: 'POST', token: null, json: {} });
    expect([anonymous.status, anonymous.headers.get('www-authenticate')]).toEqual([401, 'Bearer realm="coordinator"']);
    const revoked = await call('/api/approvals', { method: 'POST', token: 'agt_not-a-token', json: {} });
    expect([revoked.status, revoked.headers.get('www-authenticate')]).toEqual([401, 'Bearer realm="coordinator", error="invalid_token"']);
    expect((await call('/api/approvals', { method: 'POST', token: ANA, json: {} })).status).toBe(403);
    expect((await call(`/api/approvals/${id}?waitSec=0`, { token: AGENT })).status).toBe(200);
    expect((await call('/api/approvals/NOPE00', { token: AGENT })).status).toBe(404);
    expect((await call('/api/approvals?limit=2&status=pending', { token: ANA })).status).toBe(200);
    expect((await call('/api/approvals?limit=0')).status).toBe(400);
    expect((await call('/api/approvals/rules', { token: ANA })).status).toBe(200);
    expect((await call(`/api/approvals/${id}/decision`, { method: 'POST', token: ANA, json: { decision: 'approve', reason: 'ok' } })).status).toBe(200);
    expect((await call(`/api/approvals/${id}/decision`, { method: 'POST', token: ANA, json: { decision: 'reject' } })).status).toBe(409);
    expect((await call(`/api/approvals/${id}/result`, { method: 'POST', token: AGENT, json: { success: true, result: { refundId: 'R1' } } })).status).toBe(200);
    const other = await call('/api/approvals', { method: 'POST', token: AGENT, json: { branchId: 'lisboa', actionType: 'refund', summary: 'Another' } });
    expect((await call(`/api/approvals/${other.body.approval.id as string}/cancel`, { method: 'POST', token: AGENT })).status).toBe(200);
    expect((await call('/api/approvals/bulk', { method: 'POST', token: ANA, json: { ids: [id, 'nope'], decision: 'approve' } })).status).toBe(200);
  });

  it('agents, tokens, runners, status, audit, config, contacts and the system routes', async () => {
    const registered = await call('/api/agents', { method: 'POST', json: { id: 'crm-sync', branchId: 'porto', name: 'CRM sync' } });
    expect(registered.status).toBe(201);
    expect((await call('/api/agents', { method: 'POST', json: { id: 'crm-sync', branchId: 'porto' } })).status).toBe(409);
    expect((await call('/api/agents?branchId=porto')).status).toBe(200);
    expect((await call('/api/agents/crm-sync')).status).toBe(200);
    expect((await call('/api/agents/crm-sync', { method: 'PATCH', json: { teamId: null } })).status).toBe(200);
    expect((await call('/api/agents/crm-sync/heartbeat', { method: 'POST', token: registered.body.token as string })).status).toBe(200);
    expect((await call('/api/agents/crm-sync/heartbeat', { method: 'POST', token: AGENT })).status).toBe(403);
    expect((await call('/api/agents/crm-sync/maintenance', { method: 'POST', json: { enabled: true } })).status).toBe(200);
    expect((await call('/api/agents/lis-tg/restart', { method: 'POST' })).status).toBe(200);
    expect((await call('/api/agents/crm-sync', { method: 'DELETE' })).status).toBe(204);
    expect((await call('/api/agents/crm-sync')).status).toBe(404);
    const token = await call('/api/tokens', { method: 'POST', json: { role: 'operator', subject: 'olga' } });
    expect(token.status).toBe(201);
    expect((await call('/api/tokens')).status).toBe(200);
    expect((await call(`/api/tokens/${token.body.id as string}`, { method: 'DELETE' })).status).toBe(204);
    expect((await call('/api/runners', { method: 'POST', json: { name: 'r1', branches: ['porto'] } })).status).toBe(400);
    // The overview changes while checks come in (a restart above): until one ETag holds for two requests.
    await until('a stable ETag', async () => {
      const status = await call('/coordination/status', { token: AGENT });
      expect(status.status).toBe(200);
      return (await call('/coordination/status', { token: AGENT, headers: { 'if-none-match': status.headers.get('etag')! } })).status === 304;
    });
    expect((await call('/api/audit?limit=5')).status).toBe(200);
    expect((await call('/api/audit/verify')).status).toBe(200);
    expect((await call('/api/audit/verify?head=bad')).status).toBe(400);
    expect((await call('/config')).status).toBe(200);
    expect((await call('/config', { method: 'PATCH', json: { healthIntervalMs: 20000 } })).status).toBe(200);
    expect((await call('/api/contacts?state=pending_human', { token: ANA })).status).toBe(200);
    expect((await call('/api/contacts/nope', { token: ANA })).status).toBe(404);
    (bots.get('lis-tg') as FakeBot).emit({ type: 'message', message: { agentId: 'lis-tg', channel: 'telegram', chatId: '5001', senderId: '5001', senderName: 'Rita', text: 'Preciso de falar com uma pessoa', at: new Date().toISOString() } });
    await until('the customer stored', async () => (await t.running.store.contacts.count()) === 1);
    const contacts = await call('/api/contacts', { token: ANA });
    const contactId = contacts.body.contacts[0].id as string;
    expect((await call(`/api/contacts/${contactId}`, { token: ANA })).status).toBe(200);
    expect((await call(`/api/contacts/${contactId}/messages?limit=1`, { token: ANA })).status).toBe(200);
    expect((await call(`/api/contacts/${contactId}/messages?before=nope`, { token: ANA })).status).toBe(400);
    expect((await call(`/api/contacts/${contactId}/handoff`, { method: 'POST', token: ANA })).status).toBe(200);
    expect((await call(`/api/contacts/${contactId}/reply`, { method: 'POST', token: ANA, json: { text: 'Olá Rita' } })).status).toBe(201);
    expect((await call(`/api/contacts/${contactId}/resolve`, { method: 'POST', token: ANA })).status).toBe(200);
    expect((await call(`/api/contacts/${contactId}`, { method: 'PATCH', token: ANA, json: { tags: ['vip'] } })).status).toBe(200);
    expect((await call('/health', { token: null })).status).toBe(200);
    expect((await call('/ready', { token: null })).status).toBe(200);
    expect((await call('/metrics')).status).toBe(200);
  });

  it('checked a real answer of every API operation', () => {
    const operations = Object.entries(doc.paths as Record<string, Json>)
      .filter(([path]) => !path.startsWith('/webhooks/'))
      .flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path}`));
    const seen = new Set([...checked].map((c) => c.replace(/ \d+$/, '')));
    const unchecked = operations.filter((o) => !seen.has(o));
    // Rules need a learned suggestion and /mcp an MCP client (test/mcp); the kit's own pages are read above.
    expect(unchecked.sort()).toEqual(
      [
        'GET /docs/api',
        'GET /openapi.json',
        'POST /api/approvals/rules/{id}/accept',
        'POST /api/approvals/rules/{id}/revoke',
        'POST /mcp',
      ].sort(),
    );
  });
});
