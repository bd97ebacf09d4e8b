type Json = Record<string, unknown>;

const escape = (text: unknown): string => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
/** Text with the document's markdown bits (`code`, **bold**) shown as such, everything else escaped. */
const prose = (text: unknown): string =>
  escape(text)
    .replace(/`([^`]+)`/g, '<code>$1</code>')
    .replace(/\*\*([^*]+)\*\*/g, '<b>$1</b>');

/** A JSON Schema as one readable line per field: `name  type  (required)  — description`, nested by indent. */
function fields(schema: Json, components: Record<string, Json>, depth = 0, seen = new Set<string>()): string {
  const ref = typeof schema.$ref === 'string' ? schema.$ref.split('/').pop()! : undefined;
  if (ref) {
    if (seen.has(ref) || depth > 3) return `<a href="#schema-${escape(ref)}">${escape(ref)}</a>`;
    return fields(components[ref] ?? {}, components, depth, new Set([...seen, ref]));
  }
  const props = schema.properties as Record<string, Json> | undefined;
  if (!props) return escape(typeOf(schema));
  const required = new Set((schema.required as string[] | undefined) ?? []);
  const rows = Object.entries(props).map(([name, p]) => {
    const nested = p.properties || (p.items as Json | undefined)?.properties || p.$ref || (p.items as Json | undefined)?.$ref;
    const inner = nested ? `<div class="nested">${fields((p.items as Json | undefined) && !p.properties && !p.$ref ? (p.items as Json) : p, components, depth + 1, seen)}</div>` : '';
    return `<li><code>${escape(name)}</code> <span class="type">${escape(typeOf(p))}</span>${required.has(name) ? ' <span class="req">required</span>' : ''}${p.description ? ` — ${prose(p.description)}` : ''}${inner}</li>`;
  });
  return `<ul>${rows.join('')}</ul>`;
}

function typeOf(s: Json): string {
  if (typeof s.$ref === 'string') return s.$ref.split('/').pop()!;
  if (s.enum) return (s.enum as unknown[]).map((v) => JSON.stringify(v)).join(' | ');
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.anyOf || s.oneOf) return ((s.anyOf ?? s.oneOf) as Json[]).map(typeOf).join(' | ');
  if (s.type === 'array') return `${typeOf((s.items as Json | undefined) ?? {})}[]`;
  const bounds = [s.minimum !== undefined ? `≥ ${String(s.minimum)}` : '', s.maximum !== undefined ? `≤ ${String(s.maximum)}` : '', s.maxLength !== undefined ? `≤ ${String(s.maxLength)} chars` : '', s.pattern ? `/${String(s.pattern)}/` : '', s.default !== undefined ? `default ${JSON.stringify(s.default)}` : '']
    .filter(Boolean)
    .join(', ');
  return `${Array.isArray(s.type) ? s.type.join(' | ') : String(s.type ?? 'any')}${bounds ? ` (${bounds})` : ''}`;
}

/**
 * The API reference as one self-contained HTML page, rendered on the server
 * from the OpenAPI document (no script, no CDN): every operation with who may
 * call it, its parameters, body, answers and examples.
 */
export function referencePage(doc: Json): string {
  const info = doc.info as Json;
  const components = ((doc.components as Json).schemas ?? {}) as Record<string, Json>;
  const ops: Array<{ tag: string; method: string; path: string; op: Json }> = [];
  for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, Json>>)) {
    for (const [method, op] of Object.entries(item)) ops.push({ tag: (op.tags as string[])[0]!, method, path, op });
  }
  const sections = (doc.tags as Array<{ name: string; description: string }>).map((tag) => {
    const list = ops.filter((o) => o.tag === tag.name);
    const items = list.map(({ method, path, op }) => {
      const params = (op.parameters as Json[] | undefined) ?? [];
      const body = (op.requestBody as Json | undefined)?.content as Record<string, Json> | undefined;
      const json = body?.['application/json'];
      const responses = Object.entries(op.responses as Record<string, Json>).map(([status, r]) => {
        const media = Object.values((r.content as Record<string, Json> | undefined) ?? {})[0];
        const schema = media?.schema as Json | undefined;
        const ref = schema?.$ref ? String(schema.$ref).split('/').pop() : undefined;
        return `<li><b>${escape(status)}</b> ${prose(r.description)}${ref === 'Error' ? '' : schema && Number(status) < 400 ? `<div class="nested">${fields(schema, components)}</div>` : ''}${media?.example !== undefined ? `<pre>${escape(JSON.stringify(media.example, null, 2))}</pre>` : ''}</li>`;
      });
      return `<section class="op" id="${escape(op.operationId)}">
<h3><span class="method ${escape(method)}">${escape(method.toUpperCase())}</span> <code>${escape(path)}</code></h3>
<p>${escape(op.summary)}</p>
${String(op.description ?? '')
  .split('\n\n')
  .map((p) => `<p>${prose(p)}</p>`)
  .join('')}
${params.length ? `<h4>Parameters</h4><ul>${params.map((p) => `<li><code>${escape(p.name)}</code> <span class="type">${escape(p.in)}, ${escape(typeOf(p.schema as Json))}</span>${p.required ? ' <span class="req">required</span>' : ''}${p.description ? ` — ${prose(p.description)}` : ''}</li>`).join('')}</ul>` : ''}
${json ? `<h4>Body</h4>${fields(json.schema as Json, components)}${json.example !== undefined ? `<pre>${escape(JSON.stringify(json.example, null, 2))}</pre>` : ''}` : ''}
<h4>Answers</h4><ul>${responses.join('')}</ul>
</section>`;
    });
    return `<h2 id="tag-${escape(tag.name)}">${escape(tag.name)}</h2><p>${escape(tag.description)}</p>${items.join('\n')}`;
  });
  const schemaList = Object.entries(components).map(([name, s]) => `<section class="op" id="schema-${escape(name)}"><h3>${escape(name)}</h3>${s.description ? `<p>${prose(s.description)}</p>` : ''}${fields(s, components, 1, new Set([name]))}</section>`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escape(info.title)} ${escape(info.version)}</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:960px;margin:0 auto;padding:1rem 1.5rem;color:#1b1f24}
code,pre{font:13px ui-monospace,monospace}pre{background:#f4f6f8;padding:.6rem;overflow:auto;border-radius:4px}
.op{border-top:1px solid #dde2e7;padding:.4rem 0}.method{display:inline-block;min-width:4.2em;text-align:center;border-radius:3px;color:#fff;font-size:12px;padding:1px 4px}
.get{background:#1f7a4d}.post{background:#1f5fa8}.patch{background:#8a5a00}.delete{background:#a33}
.type{color:#57606a}.req{color:#a33;font-size:12px}.nested{margin-left:1rem}ul{padding-left:1.2rem}nav a{margin-right:.8rem}
</style></head><body>
<h1>${escape(info.title)} <small>${escape(info.version)}</small></h1>
<p>${prose(info.description)}</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p>
<nav>${(doc.tags as Array<{ name: string }>).map((t) => `<a href="#tag-${escape(t.name)}">${escape(t.name)}</a>`).join('')}<a href="#schemas">schemas</a></nav>
${sections.join('\n')}
<h2 id="schemas">Schemas</h2>
${schemaList.join('\n')}
</body></html>`;
}
