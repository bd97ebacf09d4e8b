import { Router } from 'express';
import { openApiDocument, type DocumentOptions } from '../openapi/openapi-document.js';
import { referencePage } from '../openapi/reference-page.js';

/**
 * `GET /openapi.json` (the OpenAPI 3.1 document, built from the routes' zod
 * schemas) and `GET /docs/api` (the same as a readable page). Public, like
 * `/health`: they say what the API is, nothing about its data. Built once,
 * at the first request.
 */
export function docsRoutes(options: DocumentOptions): Router {
  const router = Router();
  let built: { json: string; html: string } | undefined;
  const build = () => {
    if (!built) {
      const doc = openApiDocument(options);
      built = { json: JSON.stringify(doc), html: referencePage(doc) };
    }
    return built;
  };
  router.get('/openapi.json', (_req, res) => {
    res.type('json').send(build().json);
  });
  router.get('/docs/api', (_req, res) => {
    res.type('html').send(build().html);
  });
  return router;
}
