import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { ConfigError, type Issue } from '../core/errors.js';
import {
  CREDENTIAL_FIELDS,
  coordinatorConfigSchema,
  type AgentConfig,
  type CoordinatorConfig,
} from './config-schema.js';
import { substituteVars } from './substitute-vars.js';
import { zodIssues } from './zod-issues.js';

export interface LoadedConfig {
  path: string;
  /** False when the file does not exist: that means "no branches yet", not an error. */
  exists: boolean;
  config: CoordinatorConfig;
}

const REQUIRED_CREDENTIALS: Record<AgentConfig['channel'], string[]> = {
  telegram: ['token'],
  slack: ['botToken', 'signingSecret'],
  whatsapp: [],
};

/** Reads and validates the coordinator config file (YAML, `${VAR}` substitution). */
export function loadConfigFile(path: string, env: Record<string, string | undefined>): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      return { path, exists: false, config: parseConfig({}, env) };
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
  return { path, exists: true, config: parseConfig(doc.toJS() ?? {}, env) };
}

/**
 * Validates a parsed config tree. Every problem is collected (schema, duplicate
 * ids, unknown dependencies, cycles) and thrown together as one ConfigError.
 */
export function parseConfig(tree: unknown, env: Record<string, string | undefined>): CoordinatorConfig {
  const { value, missing } = substituteVars(tree, env);
  const credentialPath = /^branches\[(\d+)\]\.agents\[(\d+)\]\.([A-Za-z]+)$/;
  const unsetVars: Issue[] = [];
  for (const ref of missing) {
    const m = credentialPath.exec(ref.path);
    if (m && (CREDENTIAL_FIELDS as readonly string[]).includes(m[3])) continue;
    unsetVars.push({ path: ref.path, message: `environment variable ${ref.variable} is not set (set it in .env or the environment, or use \${${ref.variable}:-default})` });
  }
  const parsed = coordinatorConfigSchema.safeParse(value);
  if (!parsed.success) {
    // An unset variable explains the schema's complaint about the same field better than the schema does.
    const explained = new Set(unsetVars.map((i) => i.path));
    throw new ConfigError([...unsetVars, ...zodIssues(parsed.error).filter((i) => !explained.has(i.path))]);
  }
  const config = parsed.data as CoordinatorConfig;
  const issues: Issue[] = [...unsetVars];

  config.branches.forEach((branch, b) => {
    branch.agents.forEach((agent, a) => {
      const lacking = REQUIRED_CREDENTIALS[agent.channel].filter((field) => !(agent as Record<string, unknown>)[field]);
      if (lacking.length > 0) {
        const vars = missing.filter((r) => r.path.startsWith(`branches[${b}].agents[${a}].`)).map((r) => r.variable);
        agent.missingCredentials = vars.length > 0 ? vars : lacking;
      }
    });
  });

  issues.push(...crossCheck(config));
  if (issues.length > 0) throw new ConfigError(issues);
  return config;
}

function crossCheck(config: CoordinatorConfig): Issue[] {
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
      else if (!target.chat && !(agent.channel === 'slack' && agent.staffChannel)) {
        issues.push({ path: `${path}.chat`, message: `say which chat of '${target.agent}' staff read (or give that Slack agent a staffChannel)` });
      }
    }),
  );
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
