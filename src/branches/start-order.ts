/**
 * Orders agents so each comes after what it depends on (dependencies outside
 * the list are ignored; cycles were refused when the config was loaded).
 */
export function startOrder<T extends { id: string; dependsOn: string[] }>(agents: T[]): T[] {
  const byId = new Map(agents.map((a) => [a.id, a]));
  const done = new Set<string>();
  const out: T[] = [];
  const visit = (a: T, path: Set<string>) => {
    if (done.has(a.id) || path.has(a.id)) return;
    path.add(a.id);
    for (const dep of a.dependsOn) {
      const d = byId.get(dep);
      if (d) visit(d, path);
    }
    done.add(a.id);
    out.push(a);
  };
  for (const a of agents) visit(a, new Set());
  return out;
}
