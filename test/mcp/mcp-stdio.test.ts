import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { Progress } from '@modelcontextprotocol/sdk/types.js';
import { stopChild } from '../helpers/stop-child.js';
import { until } from '../helpers/until.js';
import { AGENT_TOKEN, callTool, startMcpWorld, structured, textOf, type McpWorld } from './mcp-setup.js';

const ROOT = resolve(import.meta.dirname, '../..');
/** What `npm run mcp` runs (package.json), without npm in between. */
const MCP_COMMAND = [process.execPath, '--import', 'tsx', 'src/mcp/stdio-main.ts'];
const BASE_ENV = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    // ESRCH: no such process, which is what we wait for.
    return false;
  }
};

describe('MCP over stdio (a real child process)', () => {
  let w: McpWorld;
  const open: Array<{ client: Client; transport: StdioClientTransport }> = [];

  beforeAll(async () => {
    w = await startMcpWorld();
  });
  afterEach(async () => {
    for (const { client, transport } of open.splice(0)) {
      const pid = transport.pid;
      await client.close();
      if (pid) await until(`MCP child ${pid} gone`, () => !alive(pid));
    }
  });
  afterAll(async () => {
    await w.close();
  });

  const start = async (command = MCP_COMMAND, env: Record<string, string> = {}) => {
    const transport = new StdioClientTransport({ command: command[0]!, args: command.slice(1), cwd: ROOT, env: { ...BASE_ENV, COORDINATOR_URL: w.t.url, COORDINATOR_TOKEN: AGENT_TOKEN, LOG_LEVEL: 'debug', ...env }, stderr: 'pipe' });
    let stderr = '';
    (transport.stderr as Readable).on('data', (c: Buffer) => (stderr += c.toString()));
    const client = new Client({ name: 'jest', version: '1.0.0' });
    await client.connect(transport);
    open.push({ client, transport });
    return { client, stderr: () => stderr };
  };

  it('request_approval through to Ana approving in Telegram, with progress notifications; logs only on stderr', async () => {
    const { client, stderr } = await start();
    const progress: Progress[] = [];
    const call = callTool(client, 'request_approval', { actionType: 'refund', summary: 'Refund 9 EUR to order 2001 (stdio)', details: { orderId: '2001', amount: 9 } }, { onprogress: (p) => progress.push(p) });
    await w.decideInTelegram('Refund 9 EUR to order 2001 (stdio)');
    const out = structured(await call);
    expect(out).toMatchObject({ status: 'approved', decision: { by: 'ana', byName: 'Ana', via: 'telegram' }, payloadMatchesRequest: true });
    expect(progress[0].message).toMatch(/waits for a manager at branch lisboa: .*Expires/);
    expect(stderr()).toMatch(/\[coordinator-mcp\] info MCP server on stdio for the coordinator at http:\/\/127\.0\.0\.1:\d+/);
  });

  it('cancelling the call stops the wait; the approval stays pending (cancel_approval withdraws it)', async () => {
    const { client, stderr } = await start();
    const abort = new AbortController();
    const progress: Progress[] = [];
    const call = callTool(client, 'request_approval', { actionType: 'refund', summary: 'Refund 3 EUR to order 2002 (stdio, cancelled call)' }, { signal: abort.signal, onprogress: (p) => progress.push(p) });
    await until('the first progress', () => progress.length > 0);
    abort.abort();
    await expect(call).rejects.toThrow();
    await until('the child stopped waiting', () => /request_approval: the client cancelled the call; stopped waiting/.test(stderr()));
    const listed = await callTool(client, 'get_approval', { id: /Approval (\w+)/.exec(progress[0].message!)![1]! });
    expect(structured(listed).status).toBe('pending');
    expect(structured(await callTool(client, 'cancel_approval', { id: structured(listed).id })).status).toBe('cancelled');
  });

  it('npm run --silent mcp speaks MCP on a clean stdout', async () => {
    const npm = process.env.npm_execpath ? [process.execPath, process.env.npm_execpath] : ['npm'];
    const { client } = await start([...npm, 'run', '--silent', 'mcp']);
    const { tools } = await client.listTools();
    expect(tools).toHaveLength(6);
    expect(textOf(await callTool(client, 'coordination_status', {}))).toMatch(/Branch Lisboa \(lisboa\)/);
  });

  it('a wrong token is a tool error saying so, not a crash', async () => {
    const { client } = await start(MCP_COMMAND, { COORDINATOR_TOKEN: 'not-a-token-anyone-has' });
    const result = await callTool(client, 'coordination_status', {});
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/unauthorized \(HTTP 401\)[\s\S]*valid agent token/);
  });

  it('without COORDINATOR_TOKEN: exits 1 naming the variable on stderr, nothing on stdout', async () => {
    const child = spawn(MCP_COMMAND[0]!, MCP_COMMAND.slice(1), { cwd: ROOT, env: { ...BASE_ENV, COORDINATOR_URL: w.t.url }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    try {
      const code = await new Promise((done) => child.on('close', done));
      expect(code).toBe(1);
      expect(err).toMatch(/Cannot start the coordinator MCP server\.[\s\S]*COORDINATOR_TOKEN: is not set: give this MCP server the bearer token of an action agent/);
      expect(out).toBe('');
    } finally {
      await stopChild(child);
    }
  });
});
