// The console's one way to the engine: fetch with the tab's API key (sessionStorage), coded errors
// turned into exceptions with their status, and server-sent events read from a fetch stream
// (EventSource cannot send the Authorization header).
const KEY = 'bw.key';

class ApiError extends Error {
  constructor(status, code, message, violations) {
    super(message);
    this.status = status;
    this.code = code;
    /** BW_ERR_CRM_CONFIG: each violation of a refused rule. */
    this.violations = violations ?? [];
  }
}

let onUnauthorized = () => {};

export function setUnauthorizedHandler(handler) {
  onUnauthorized = handler;
}

export function setKey(key) {
  sessionStorage.setItem(KEY, key);
}

function headers() {
  const key = sessionStorage.getItem(KEY);
  return key ? { authorization: `Bearer ${key}` } : {};
}

async function request(path, init = {}) {
  const res = await fetch(path, { ...init, headers: { ...headers(), ...init.headers } });
  if (res.status === 401) {
    sessionStorage.removeItem(KEY);
    onUnauthorized();
  }
  return res;
}

export async function getJson(path) {
  const res = await request(path);
  const body = await res.json().catch(() => null);
  if (!res.ok)
    throw new ApiError(res.status, body?.error?.code ?? 'BW_ERR', body?.error?.message ?? res.statusText);
  return body;
}

/** PUT or DELETE with an optional JSON body; the JSON answer, or an ApiError with its code and violations. */
export async function sendJson(method, path, body) {
  const init =
    body === undefined
      ? { method }
      : { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
  const res = await request(path, init);
  const answer = await res.json().catch(() => null);
  if (!res.ok) {
    const error = answer?.error;
    throw new ApiError(
      res.status,
      error?.code ?? 'BW_ERR',
      error?.message ?? res.statusText,
      error?.violations,
    );
  }
  return answer;
}

export async function getText(path) {
  const res = await request(path);
  if (!res.ok) throw new ApiError(res.status, 'BW_ERR', res.statusText);
  return res.text();
}

/** Calls onEvent(type, data) for each server-sent event until `signal` aborts. */
export async function readEvents(path, onEvent, signal) {
  const res = await fetch(path, { headers: headers(), signal });
  if (!res.ok) throw new ApiError(res.status, 'BW_ERR', res.statusText);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let type = 'message';
      let data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) type = line.slice(7);
        else if (line.startsWith('data: ')) data += line.slice(6);
      }
      if (data !== '') onEvent(type, JSON.parse(data));
      end = buffer.indexOf('\n\n');
    }
  }
}
