import type { z } from 'zod';
import type { Issue } from '../core/errors.js';

/** `['branches', 0, 'agents', 1, 'token']` → `branches[0].agents[1].token`. */
export function formatPath(path: ReadonlyArray<PropertyKey>, prefix = ''): string {
  let out = prefix;
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}

/** Zod's issues as our `Issue` list, one per problem, each naming its path. */
export function zodIssues(error: z.ZodError, prefix = ''): Issue[] {
  return error.issues.map((issue) => ({ path: formatPath(issue.path, prefix), message: issue.message }));
}
