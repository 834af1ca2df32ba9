// The public API with the session's token: a refused token is refreshed once and the
// request sent again. Order-path requests (reserve, purchase, cancel) go through
// order-path.js, which adds keys, retries and outcomes.

import { call } from "./http.js";
import * as session from "./session.js";

export async function api(method, path, { body, key, ticket, signal } = {}) {
  const send = async (token) => {
    const headers = {};
    if (token) headers.Authorization = `Bearer ${token}`;
    if (key) headers["Idempotency-Key"] = key;
    if (ticket) headers["X-Queue-Ticket"] = ticket;
    return call(method, path, { body, headers, signal });
  };
  const token = await session.accessToken();
  const answer = await send(token);
  if (token && answer.status === 401 && answer.code === "INVALID_TOKEN") {
    const fresh = await session.refresh();
    if (fresh) return send(fresh);
  }
  return answer;
}

export class ApiError extends Error {
  constructor(answer) {
    super((answer.body && answer.body.detail) || `HTTP ${answer.status}`);
    this.answer = answer;
    this.code = answer.code;
  }
}

/** GET that resolves to the body, or rejects with an ApiError. */
export async function get(path, options) {
  const answer = await api("GET", path, options);
  if (!answer.ok) throw new ApiError(answer);
  return answer.body;
}
