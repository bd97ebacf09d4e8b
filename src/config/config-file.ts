import { readFileSync, statSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { ConfigError, type Issue } from '../core/errors.js';
import type { ChannelRegistry } from '../bots/channel-registry.js';
import { BUILTIN_CHANNELS } from '../bots/channels.js';
import { configSchemaFor, credentialFields, coordinatorConfigSchema, type CoordinatorConfig } from './config-schema.js';
import { escalationIssues } from './escalation-check.js';
import { substituteVars } from './substitute-vars.js';
import { formatPath, zodIssues } from './zod-issues.js';

export interface LoadedConfig {
  path: string;
  /** False when the file does not exist: that means "no branches yet", not an error. */
  exists: boolean;
  config: CoordinatorConfig;
}

/**
 * Largest config file read (1 MiB): a real one is a few KB, and a huge one
 * costs seconds of YAML parsing and the memory of every node.
 */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * Deepest nesting of the parsed tree: the schema's own depth is under 10, and
 * every step after parsing (`${VAR}` substitution, validation) walks the tree,
 * so a deeper one is refused before it can exhaust the stack.
 */
export const MAX_CONFIG_DEPTH = 64;

/**
 * Reads and validates the coordinator config file (YAML, `${VAR}` substitution).
 * Whatever the file holds, the result is a config or a ConfigError naming the
 * path: not a regular file, over `MAX_CONFIG_BYTES`, YAML errors, alias bombs
 * ("billion laughs", refused by the yaml package's alias limit), unresolved
 * aliases and nesting deeper than `MAX_CONFIG_DEPTH` included.
 */
export function loadConfigFile(path: string, env: Record<string, string | undefined>, channels: ChannelRegistry = BUILTIN_CHANNELS): LoadedConfig {
  let text: string;
  try {
    // A directory, FIFO or device (/dev/zero) would fail late or be read forever: only regular files, and not huge ones.
    const stat = statSync(path);
    if (!stat.isFile()) throw new ConfigError([{ path, message: 'not a regular file (COORDINATOR_CONFIG must name a YAML file)' }]);
    if (stat.size > MAX_CONFIG_BYTES) throw new ConfigError([{ path, message: `the file is ${stat.size} bytes; a config file may have at most ${MAX_CONFIG_BYTES} (1 MiB)` }]);
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return { path, exists: false, config: parseConfig({}, env, channels) };
    }
    throw new ConfigError([{ path, message: `cannot read the file: ${(error as Error).message}` }]);
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => ({
        path: `${path}${e.linePos ? `:${e.linePos[0].line}:${e.linePos[0].col}` : ''}`,
        message: `YAML syntax: ${e.message.split('\n')[0]}`,
      })),
    );
  }
  let tree: unknown;
  try {
    // The yaml package throws (rather than reports) here: too many alias expansions, an alias before its anchor, a stack overflow.
    tree = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    throw new ConfigError([{ path, message: `YAML: ${yamlProblem(error)}` }]);
  }
  return { path, exists: true, config: parseConfig(tree ?? {}, env, channels) };
}

function yamlProblem(error: unknown): string {
  const message = error instanceof Error ? error.message.split('\n')[0] : String(error);
  if (/excessive alias count/i.test(message)) return 'aliases (*name) expand to too much data (an alias bomb?); write the values out instead';
  if (error instanceof RangeError) return 'the document is nested too deeply';
  return message;
}

/** The path of the first node nested deeper than `max` (iterative: a deep tree must not overflow the stack here either), or null. */
function tooDeep(tree: unknown, max: number): string | null {
  const stack: Array<{ node: unknown; path: PropertyKey[] }> = [{ node: tree, path: [] }];
  while (stack.length > 0) {
    const { node, path } = stack.pop()!;
    if (!node || typeof node !== 'object') continue;
    if (path.length >= max) return formatPath(path);
    for (const [k, v] of Object.entries(node)) stack.push({ node: v, path: [...path, Array.isArray(node) ? Number(k) : k] });
  }
  return null;
}

/**
 * Validates a parsed config tree. Every problem is collected (schema, duplicate
 * ids, unknown dependencies, cycles) and thrown together as one ConfigError.
 */
export function parseConfig(tree: unknown, env: Record<string, string | undefined>, channels: ChannelRegistry = BUILTIN_CHANNELS): CoordinatorConfig {
  const deep = tooDeep(tree, MAX_CONFIG_DEPTH);
  if (deep !== null) throw new ConfigError([{ path: deep, message: `nested deeper than ${MAX_CONFIG_DEPTH} levels; the config's own structure is under 10` }]);
  const { value, missing } = substituteVars(tree, env);
  const credentialPath = /^branches\[(\d+)\]\.agents\[(\d+)\]\.([A-Za-z]+)$/;
  const unsetVars: Issue[] = [];
  const secrets = credentialFields(channels);
  for (const ref of missing) {
    const m = credentialPath.exec(ref.path);
    if (m && secrets.includes(m[3]!)) continue;
    unsetVars.push({ path: ref.path, message: `environment variable ${ref.variable} is not set (set it in .env or the environment, or use \${${ref.variable}:-default})` });
  }
  const parsed = (channels === BUILTIN_CHANNELS ? coordinatorConfigSchema : (configSchemaFor(channels) as unknown as typeof coordinatorConfigSchema)).safeParse(value);
  if (!parsed.success) {
    // An unset variable explains the schema's complaint about the same field better than the schema does.
    const explained = new Set(unsetVars.map((i) => i.path));
    throw new ConfigError([...unsetVars, ...zodIssues(parsed.error).filter((i) => !explained.has(i.path))]);
  }
  const config = withoutInheritedKeys(parsed.data as CoordinatorConfig);
  const issues: Issue[] = [...unsetVars];

  config.branches.forEach((branch, b) => {
    branch.agents.forEach((agent, a) => {
      const lacking = channels.get(agent.channel).credentials.required.filter((field) => !agent[field]);
      if (lacking.length > 0) {
        const vars = missing.filter((r) => r.path.startsWith(`branches[${b}].agents[${a}].`)).map((r) => r.variable);
        agent.missingCredentials = vars.length > 0 ? vars : lacking;
      }
    });
  });

  issues.push(...crossCheck(config, channels));
  if (issues.length > 0) throw new ConfigError(issues);
  return config;
}

/** A copy of a map with no prototype: looking up `constructor` or `__proto__` in it finds nothing. */
function dict<T>(map: Record<string, T>): Record<string, T> {
  return Object.assign(Object.create(null) as Record<string, T>, map);
}

/**
 * The config's maps keyed by data (action types, team ids, risk levels, days,
 * currency codes) are looked up with keys from requests: as plain objects,
 * `riskByAction['constructor']` was Object itself (an approval with action
 * type `constructor` failed with "Invalid time value") and `teams['constructor']`
 * a "team". Without a prototype, only configured keys are found.
 */
function withoutInheritedKeys(config: CoordinatorConfig): CoordinatorConfig {
  const a = config.approvals;
  config.approvals = { ...a, riskByAction: dict(a.riskByAction), minRole: dict(a.minRole), ttlSec: dict(a.ttlSec), escalateAfterSec: dict(a.escalateAfterSec), escalation: dict(a.escalation), teams: dict(a.teams) };
  for (const branch of config.branches) {
    if (branch.businessHours) branch.businessHours = dict(branch.businessHours);
    branch.responder.rates = dict(branch.responder.rates);
  }
  return config;
}

function crossCheck(config: CoordinatorConfig, channels: ChannelRegistry): Issue[] {
  const issues: Issue[] = [];
  const branchIds = new Map<string, number>();
  const agentIds = new Map<string, string>();
  config.branches.forEach((branch, b) => {
    if (branchIds.has(branch.id)) {
      issues.push({ path: `branches[${b}].id`, message: `duplicate branch id '${branch.id}' (also branches[${branchIds.get(branch.id)}])` });
    }
    branchIds.set(branch.id, b);
    const managerIds = new Set<string>();
    branch.managers.forEach((manager, m) => {
      if (managerIds.has(manager.id)) issues.push({ path: `branches[${b}].managers[${m}].id`, message: `duplicate manager id '${manager.id}' in branch '${branch.id}'` });
      managerIds.add(manager.id);
    });
    branch.agents.forEach((agent, a) => {
      const path = `branches[${b}].agents[${a}]`;
      if (agentIds.has(agent.id)) issues.push({ path: `${path}.id`, message: `duplicate agent id '${agent.id}' (also ${agentIds.get(agent.id)})` });
      else agentIds.set(agent.id, path);
    });
  });
  const deps = new Map<string, string[]>();
  for (const branch of config.branches) for (const agent of branch.agents) if (!deps.has(agent.id)) deps.set(agent.id, agent.dependsOn);
  for (const [id, list] of deps) {
    for (const dep of list) {
      if (!deps.has(dep)) issues.push({ path: `${agentIds.get(id)}.dependsOn`, message: `unknown agent '${dep}'` });
    }
  }
  const cycle = findCycle(deps);
  if (cycle) issues.push({ path: `${agentIds.get(cycle[0])}.dependsOn`, message: `dependency cycle: ${cycle.join(' -> ')}` });
  const ops = config.business.opsAlerts;
  if (ops && !agentIds.has(ops.agent)) issues.push({ path: 'business.opsAlerts.agent', message: `unknown agent '${ops.agent}'` });
  const managers = new Set(config.branches.flatMap((b) => b.managers.map((m) => m.id)));
  const usernames = new Set<string>();
  config.operators.forEach((operator, o) => {
    if (operator.manager && !managers.has(operator.manager)) issues.push({ path: `operators[${o}].manager`, message: `unknown manager '${operator.manager}' (known: ${[...managers].join(', ') || 'none'})` });
    if (usernames.has(operator.username)) issues.push({ path: `operators[${o}].username`, message: `duplicate username '${operator.username}'` });
    usernames.add(operator.username);
  });
  const agents = new Map(config.branches.flatMap((b) => b.agents.map((a) => [a.id, a] as const)));
  config.branches.forEach((branch, b) =>
    branch.responder.staff.forEach((target, s) => {
      const path = `branches[${b}].responder.staff[${s}]`;
      const agent = agents.get(target.agent);
      if (!agent) issues.push({ path: `${path}.agent`, message: `unknown agent '${target.agent}'` });
      else if (!target.chat && !channels.find(agent.channel)?.staffChat?.(agent)) {
        const hint = channels.find(agent.channel)?.staffChat ? ` (or give that ${channels.get(agent.channel).label} agent a default staff chat)` : '';
        issues.push({ path: `${path}.chat`, message: `say which chat of '${target.agent}' staff read${hint}` });
      }
    }),
  );
  issues.push(...escalationIssues(config));
  return issues;
}

/** Returns one dependency cycle as a path (first id repeated at the end), or null. */
export function findCycle(deps: Map<string, string[]>): string[] | null {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (id: string): string[] | null => {
    if (state.get(id) === 'done') return null;
    if (state.get(id) === 'visiting') return [...stack.slice(stack.indexOf(id)), id];
    state.set(id, 'visiting');
    stack.push(id);
    for (const dep of deps.get(id) ?? []) {
      if (!deps.has(dep)) continue;
      const found = visit(dep);
      if (found) return found;
    }
    stack.pop();
    state.set(id, 'done');
    return null;
  };
  for (const id of deps.keys()) {
    const found = visit(id);
    if (found) return found;
  }
  return null;
}
