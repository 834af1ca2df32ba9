// A human message for every error code of the public API (API.md). The page names what
// it was doing (`context.action`) and, where it helps, the drop (limits, start time).

import { when } from "./format.js";

const MESSAGES = {
  // the order path
  DROP_NOT_FOUND: () => "This drop does not exist (any more). Check the drops page for what is on sale.",
  DROP_NOT_ACTIVE: (c) => c.drop && c.drop.starts_at && new Date(c.drop.starts_at) > new Date()
    ? `This drop is not on sale yet: it starts ${when(c.drop.starts_at)}.`
    : "This drop is not on sale right now (it has not started, or it has ended).",
  OUT_OF_STOCK: () => "Sold out: every pair is held or sold right now. If a hold lapses, the pair comes back here and you can try again.",
  SOLD_OUT: () => "Sold out: there are no pairs left.",
  ALREADY_RESERVED: () => "You already hold a pair of this drop. Buy it or release it before reserving another.",
  LIMIT_EXCEEDED: (c) => c.drop
    ? `You have reached the limit of ${c.drop.per_user_limit} per buyer for this drop.`
    : "You have reached the per-buyer limit for this drop.",
  NO_ACTIVE_RESERVATION: () => "You hold no pair of this drop any more (it was bought, released or it expired).",
  RESERVATION_EXPIRED: () => "Your hold expired before the purchase went through, and the pair went back on sale.",
  RESERVATION_NOT_FOUND: () => "That hold is not yours or no longer exists.",
  REQUEST_IN_PROGRESS: () => "Your previous request is still being decided. Hold on…",
  REQUEST_NOT_FOUND: () => "We could not find the outcome of that request. Please try again.",
  IDEMPOTENCY_KEY_MISSING: () => "The page sent an incomplete request. Reload the page and try again.",
  IDEMPOTENCY_KEY_REUSED: () => "The page reused a request id for a different request. Reload the page and try again.",
  // the waiting room
  WAITING_ROOM: () => "Lots of buyers right now: you have a place in the waiting room.",
  TICKET_INVALID: () => "Your place in the waiting room is no longer valid (it was used, your turn passed, or it belongs to someone else). Take a new place in line.",
  SERVICE_UNAVAILABLE: () => "The waiting room is full right now. Please try again in a little while.",
  // identity
  UNAUTHORIZED: () => "Please log in first.",
  INVALID_TOKEN: () => "Your session has expired. Please log in again.",
  INVALID_CREDENTIALS: () => "Wrong username or password.",
  USERNAME_TAKEN: () => "That username is taken. Please choose another.",
  FORBIDDEN: () => "Only an admin may do that.",
  // overload and failures
  RATE_LIMITED: (c) => `Too many requests from you. Please wait ${c.retryAfter || 1} s.`,
  UPSTREAM_UNAVAILABLE: () => "Part of the shop is unavailable for a moment. Please try again.",
  INVENTORY_TIMEOUT: () => "The stock keeper did not answer in time. Please try again: nothing was charged twice.",
  INTERNAL_ERROR: () => "Something went wrong on our side. Please try again.",
  NETWORK: () => "Connection lost. Check your network and try again: your request is kept, so retrying is safe.",
  // input and admin
  VALIDATION_ERROR: (c) => `Please check your input${c.detail ? `: ${c.detail}` : "."}`,
  PAYLOAD_TOO_LARGE: () => "That is too much text. Please shorten it.",
  HEADERS_TOO_LARGE: () => "The request was too large. Please reload the page.",
  DROP_EXISTS: () => "A drop with this id already exists.",
  DROP_NOT_EMPTY: () => "This drop has holds or sales, so it cannot be deleted.",
  INVALID_STOCK: () => "The total stock cannot be below what is already held and sold.",
  NOT_FOUND: () => "Not found.",
  BAD_REQUEST: () => "The request was not understood. Please reload the page.",
};

/** The message for an API answer (an Answer from http.js) or a bare code. */
export function describe(answerOrCode, context = {}) {
  const answer = typeof answerOrCode === "string" ? null : answerOrCode;
  const code = answer ? answer.code : answerOrCode;
  const detail = answer && answer.body ? answer.body.detail : undefined;
  const retryAfter = answer && answer.headers ? answer.retryAfter() : undefined;
  const make = MESSAGES[code];
  if (make) return make({ ...context, detail, retryAfter });
  return detail ? `Sorry, that did not work: ${detail}` : "Sorry, that did not work. Please try again.";
}

export const KNOWN_CODES = Object.freeze(Object.keys(MESSAGES));
