// What a buyer is in the middle of on a drop, kept in sessionStorage so that a reload,
// a lost connection or the round trip through the waiting room keeps the same
// Idempotency-Keys: the reserve being attempted (its key, and the admitted ticket to
// send with it) and the hold it gave (the keys of its purchase and of its cancel).

import { newKey } from "./order-path.js";

function read(name) {
  try { return JSON.parse(sessionStorage.getItem(name) || "null"); } catch { return null; }
}

function write(name, value) {
  if (value === null) sessionStorage.removeItem(name);
  else sessionStorage.setItem(name, JSON.stringify(value));
}

const reserveName = (userId, dropId) => `stampede.reserve.${userId}.${dropId}`;
const holdName = (userId, dropId) => `stampede.hold.${userId}.${dropId}`;

/** The reserve being attempted on this drop, if any: {key, ticket?, returns}. */
export function pendingReserve(userId, dropId) {
  return read(reserveName(userId, dropId));
}

/** The reserve being attempted, or a new one with a fresh key. */
export function beginReserve(userId, dropId) {
  const existing = pendingReserve(userId, dropId);
  if (existing) return existing;
  const fresh = { key: newKey("reserve"), ticket: null, returns: 0 };
  write(reserveName(userId, dropId), fresh);
  return fresh;
}

export function updateReserve(userId, dropId, changes) {
  const next = { ...beginReserve(userId, dropId), ...changes };
  write(reserveName(userId, dropId), next);
  return next;
}

/** The attempt has its final answer: the next reserve is a new request with a new key. */
export function endReserve(userId, dropId) {
  write(reserveName(userId, dropId), null);
}

/** The hold this tab knows of: {reservation, purchaseKey, cancelKey}. */
export function knownHold(userId, dropId) {
  const hold = read(holdName(userId, dropId));
  return hold && new Date(hold.reservation.expires_at) > new Date() ? hold : null;
}

export function keepHold(userId, dropId, reservation) {
  const existing = read(holdName(userId, dropId));
  if (existing && existing.reservation.id === reservation.id) return existing;
  const hold = { reservation, purchaseKey: newKey("purchase"), cancelKey: newKey("cancel") };
  write(holdName(userId, dropId), hold);
  return hold;
}

export function forgetHold(userId, dropId) {
  write(holdName(userId, dropId), null);
}
