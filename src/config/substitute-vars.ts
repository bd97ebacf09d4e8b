import { formatPath } from './zod-issues.js';

export interface MissingVar {
  /** Where the reference sits, e.g. `branches[0].agents[0].token`. */
  path: string;
  variable: string;
}

const REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${VAR}` and `${VAR:-default}` in every string of a parsed YAML tree
 * (`$${` escapes a literal `${`). Unset variables without a default become ''
 * and are reported with their path, so the caller decides whether that is an
 * error (most fields) or "this agent lacks credentials" (credential fields).
 */
export function substituteVars(
  tree: unknown,
  env: Record<string, string | undefined>,
): { value: unknown; missing: MissingVar[] } {
  const missing: MissingVar[] = [];
  const walk = (node: unknown, path: PropertyKey[]): unknown => {
    if (typeof node === 'string') {
      return node.replace(REFERENCE, (match, name: string | undefined, fallback: string | undefined) => {
        if (match === '$${') return '${';
        // Own string values only: `${constructor}` or `${__proto__}` must not read Object.prototype's members.
        const value = Object.hasOwn(env, name as string) ? env[name as string] : undefined;
        if (typeof value === 'string' && value !== '') return value;
        if (fallback !== undefined) return fallback;
        missing.push({ path: formatPath(path), variable: name as string });
        return '';
      });
    }
    if (Array.isArray(node)) return node.map((item, i) => walk(item, [...path, i]));
    if (node && typeof node === 'object') {
      return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, walk(v, [...path, k])]));
    }
    return node;
  };
  return { value: walk(tree, []), missing };
}
