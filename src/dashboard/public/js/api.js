/** Calls to the dashboard's own endpoints (same origin, session cookie). */

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

/** The JSON body of a response; an error answer that is not JSON (a proxy's error page) still becomes an ApiError. */
async function readJson(res) {
  let data;
  try {
    data = await res.json();
  } catch (error) {
    if (res.ok) throw new ApiError(res.status, { error: { message: `The dashboard answered ${res.status} with a body that is not JSON (${error.message})` } });
    data = null;
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

/** POST JSON with the header the server requires on state-changing requests. */
export async function post(path, body = {}) {
  const res = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json', 'x-requested-with': 'dashboard' },
    body: JSON.stringify(body),
  });
  return readJson(res);
}

export async function get(path) {
  const res = await fetch(path, { credentials: 'same-origin' });
  return readJson(res);
}
