// Order-path requests (reserve, purchase, cancel) made safe to retry: the caller gives the
// Idempotency-Key it keeps for this one intended request, and every retry (a double
// click, a lost connection, a reload) sends the same key, so the server decides it once.
// Transient answers are retried here with the server's Retry-After; a 202 is followed at
// its outcome URL. What comes back is final: done, queued (a waiting-room ticket) or refused.

import { api } from "./api.js";
import { Answer, sleep } from "./http.js";

const TRANSIENT = new Set(["NETWORK", "RATE_LIMITED", "REQUEST_IN_PROGRESS", "UPSTREAM_UNAVAILABLE",
  "INVENTORY_TIMEOUT", "SERVICE_UNAVAILABLE", "INTERNAL_ERROR"]);
const MAX_TRIES = 6;
const OUTCOME_FOR_S = 60;

/**
 * @returns {Promise<{kind: "done", status: number, body: object}
 *   | {kind: "queued", ticket: string, position: number|null}
 *   | {kind: "refused", answer: import("./http.js").Answer}>}
 */
export async function submit(method, path, { key, ticket, body, onWait = () => {}, signal } = {}) {
  for (let attempt = 1; ; attempt += 1) {
    let answer = await api(method, path, { key, ticket, body, signal });
    if (answer.status === 202) answer = await outcome(key, onWait, signal);
    if (answer.ok) return { kind: "done", status: answer.status, body: answer.body };
    if (answer.code === "WAITING_ROOM") {
      const ticketOf = answer.body.ticket || answer.headers.get("X-Queue-Ticket");
      return { kind: "queued", ticket: ticketOf, position: answer.body.position ?? null };
    }
    if (!TRANSIENT.has(answer.code) || attempt >= MAX_TRIES || (signal && signal.aborted)) {
      return { kind: "refused", answer };
    }
    const wait = answer.code === "NETWORK" ? Math.min(8, 2 ** (attempt - 1)) : answer.retryAfter(1);
    onWait(answer, wait);
    await sleep(wait, signal);
  }
}

/** Follow a request answered 202 until it is decided (or give up: the key keeps it safe). */
async function outcome(key, onWait, signal) {
  const deadline = Date.now() + OUTCOME_FOR_S * 1000;
  for (;;) {
    const answer = await api("GET", `/api/requests/${encodeURIComponent(key)}`, { signal });
    if (answer.status === 200) {
      const decided = answer.body;
      return new Answer(decided.response_status, decided.response, answer.headers);
    }
    if ((answer.status !== 202 && answer.code !== "NETWORK") || Date.now() > deadline) return answer;
    onWait(answer, answer.retryAfter(1));
    await sleep(answer.retryAfter(1), signal);
  }
}

/** A fresh Idempotency-Key (crypto.randomUUID needs a secure context; this does not). */
export function newKey(prefix) {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `${prefix}-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}
