// The waiting room: where the buyer stands in the drop's queue, moved by the
// WebSocket's QUEUE_UPDATED pushes (the status URL is asked only to learn the place, to
// confirm an admission, and as a fallback while the socket is down). Admitted: back to
// the drop's page, which reserves with the ticket and the same key. Sold out: said at
// once, and the page stops.
//
// Reached with `?ticket=` (a reserve was answered 503 WAITING_ROOM) or with `?drop=`
// (the drop page's 302 while its room queues: a navigation has no ticket, so the page
// takes the place itself, with the buyer's token and the reserve's key).

import { announce, byId, el, header, loginLink, say } from "./chrome.js";
import { applyMessage, emptyDrop, fromRead, statusNow } from "./drop-state.js";
import { roughly } from "./format.js";
import { call } from "./http.js";
import { get } from "./api.js";
import { beginReserve, endReserve, keepHold, updateReserve } from "./intents.js";
import { Live, soldOut } from "./live.js";
import { describe } from "./messages.js";
import { submit } from "./order-path.js";
import * as session from "./session.js";

header();
const STATUS_URL = byId("main").dataset.statusUrl;
const SANITY_S = 15; // with the socket open, still ask now and then (a lost push costs no more)
const params = new URLSearchParams(location.search);
let ticket = params.get("ticket");
let dropId = params.get("drop");
let drop = null;
let live = null;
let place = null; // the serving count at which this ticket is admitted (learned, see calibrate)
let serving = null; // the latest serving figure pushed
let rate = null;
let firstPosition = null;
let finished = false;
let pollTimer = null;
let checking = false;
let checkAgain = false;

// -- what the buyer sees ----------------------------------------------------------------
function showPosition(position, etaSeconds) {
  const node = byId("place");
  node.dataset.position = String(position);
  node.textContent = position === 1 ? "You are next" : `#${position}`;
  byId("eta").textContent = `Estimated wait: ${roughly(etaSeconds)}.`;
  firstPosition = Math.max(firstPosition || 0, position);
  byId("progress").value = firstPosition > 1 ? (firstPosition - position) / (firstPosition - 1) : 0;
  announce(position === 1 ? "You are next in line." : `Your place in line: ${position}.`);
}

function showLotteryPending() {
  byId("place").textContent = "Drawn at the start";
  byId("eta").textContent = "Everyone who arrives before the start gets a place drawn at random when the drop starts.";
}

function finish(title, text, tone, ...actions) {
  finished = true;
  clearTimeout(pollTimer);
  if (live) live.stop();
  byId("room-title").textContent = title;
  byId("room-help").hidden = true;
  byId("eta").textContent = "";
  say(text, tone);
  byId("room-actions").replaceChildren(...actions);
}

function soldOutNow() {
  if (finished) return;
  const user = session.user();
  if (user && dropId) endReserve(user.id, dropId);
  byId("place").textContent = "Sold out";
  byId("place").dataset.position = "";
  byId("progress").hidden = true;
  byId("place-label").hidden = true;
  byId("stock-left").hidden = true;
  finish("Sold out", "Sold out: every pair has been sold. Sorry, there is nothing left to wait for.", "bad",
    el("a", { class: "button secondary", href: "/" }, "See other drops"));
  announce("Sold out. Every pair has been sold.", true);
}

function admitted() {
  if (finished) return;
  const user = session.user();
  if (user) updateReserve(user.id, dropId, { ticket });
  byId("place").textContent = "Your turn!";
  byId("place").dataset.position = "0";
  byId("progress").value = 1;
  finish("It is your turn", "It is your turn! Taking you back to the drop to reserve your pair…", "good");
  announce("It is your turn. Reserving your pair.", true);
  // replace: Back should not return to a spent ticket
  location.replace(`/drops/${dropId}?ticket=${encodeURIComponent(ticket)}`);
}

// -- the status URL: first look, calibration, confirmation, fallback -------------------
function later(seconds) {
  clearTimeout(pollTimer);
  if (finished) return;
  const socketHelps = live && live.open && place !== null;
  pollTimer = setTimeout(check, (socketHelps ? SANITY_S : Math.max(1, seconds)) * 1000);
}

async function check() {
  if (finished) return;
  if (checking) { checkAgain = true; return; }
  checking = true;
  try {
    const answer = await call("GET", `${STATUS_URL}?ticket=${encodeURIComponent(ticket)}`);
    if (finished) return;
    if (answer.ok) onStatus(answer.body);
    else if (answer.code === "TICKET_INVALID" || answer.status === 422) invalidTicket(answer);
    else { say(describe(answer), "warn"); later(answer.retryAfter(2)); }
  } finally {
    checking = false;
    if (checkAgain && !finished) { checkAgain = false; check(); }
  }
}

function onStatus(status) {
  if (status.drop_id !== dropId || !live) { // the ticket names its drop, whatever the address says
    if (live) live.stop();
    dropId = status.drop_id;
    follow();
  }
  if (status.sold_out) return soldOutNow();
  if (status.admitted) return admitted();
  say("");
  if (status.position === null) showLotteryPending();
  else {
    // position = place - serving(now); the pushed serving trails now by at most one
    // publication, so this never overshoots the place, and the largest estimate wins
    if (serving !== null) place = Math.max(place || 0, status.position + serving);
    showPosition(status.position, status.eta_seconds);
  }
  later(status.retry_after);
}

function invalidTicket(answer) {
  const again = dropId ? el("a", { class: "button", href: `/waiting-room?drop=${dropId}` }, "Take a new place in line") : null;
  byId("place").textContent = "—";
  finish("This place is no longer valid", describe(answer), "bad", again,
    el("a", { class: "button secondary", href: "/" }, "See the drops"));
}

// -- pushes ----------------------------------------------------------------------------
function onQueue(figures) {
  serving = figures.serving;
  rate = figures.admit_per_s;
  if (figures.sold_out) return soldOutNow();
  if (place === null) return check(); // learn the place once, then follow the pushes
  const position = place - serving;
  if (position <= 0) return check(); // confirm with the server before leaving
  showPosition(position, rate > 0 ? position / rate : 0);
  later(SANITY_S);
}

function onMessage(message) {
  if (!drop) drop = emptyDrop(dropId);
  const changed = applyMessage(drop, message);
  if (message.type === "QUEUE_UPDATED") return onQueue(message.data);
  if (changed.has("deleted")) {
    return finish("This drop was withdrawn", "This drop has been withdrawn: there is nothing to wait for.", "bad",
      el("a", { class: "button secondary", href: "/" }, "See other drops"));
  }
  if (changed.has("fields")) {
    showDrop();
    if (statusNow(drop) === "ended") {
      return finish("This drop has ended", "This drop has ended.", "bad",
        el("a", { class: "button secondary", href: "/" }, "See other drops"));
    }
  }
  if (changed.has("stock")) {
    if (soldOut(drop.stock)) return soldOutNow();
    byId("stock-left").textContent = `${drop.stock.available} of ${drop.stock.total} pairs not held right now.`;
  }
}

function showDrop() {
  if (drop && drop.name) {
    byId("room-drop").replaceChildren("For ", el("a", { href: `/drops/${dropId}?ticket=${encodeURIComponent(ticket)}` }, drop.name));
    document.title = `Waiting room: ${drop.name} · Stampede`;
  }
}

function follow() {
  live = new Live({ drops: [dropId] });
  live.addEventListener("message", (event) => { if (!finished) onMessage(event.detail); });
  live.addEventListener("state", (event) => {
    if (!finished && event.detail !== "open") later(1); // the pushes stopped: ask meanwhile
  });
  live.start();
  get(`/api/drops/${dropId}`).then((read) => {
    const fresh = fromRead(read);
    drop = drop ? { ...fresh, stock: drop.stock || fresh.stock, queue: drop.queue } : fresh;
    showDrop();
  }).catch(() => { /* the name is a nicety; the place is what matters */ });
}

// -- a place for a navigation that had none ---------------------------------------------
async function takePlace() {
  const user = session.user();
  if (!user) {
    byId("place").textContent = "—";
    finish("Log in to take your place", "This drop has a queue right now. Log in to take your place in line.", "",
      loginLink("Log in to take your place"));
    return false;
  }
  const attempt = beginReserve(user.id, dropId);
  say("Taking your place in line…");
  const result = await submit("POST", `/api/drops/${dropId}/reserve`, {
    key: attempt.key, body: { quantity: 1 },
    onWait: (answer, seconds) => say(`${describe(answer)} Trying again in ${Math.ceil(seconds)} s…`, "warn"),
  });
  if (result.kind === "queued") {
    ticket = result.ticket;
    history.replaceState(null, "", `/waiting-room?ticket=${encodeURIComponent(ticket)}&drop=${dropId}`);
    return true;
  }
  if (result.kind === "done") { // the line had gone: the hold is there already
    endReserve(user.id, dropId);
    keepHold(user.id, dropId, result.body.reservation);
    finish("No line any more", "The line is gone and you hold a pair: taking you to the drop…", "good");
    location.replace(`/drops/${dropId}`);
    return false;
  }
  const answer = result.answer;
  if (answer.code === "OUT_OF_STOCK") return soldOutOrHeld(answer);
  if (!["NETWORK", "RATE_LIMITED", "UPSTREAM_UNAVAILABLE", "INVENTORY_TIMEOUT", "SERVICE_UNAVAILABLE"].includes(answer.code)) {
    endReserve(user.id, dropId);
  }
  byId("place").textContent = "—";
  finish("You are not in line", describe(answer), "bad",
    el("a", { class: "button secondary", href: `/drops/${dropId}` }, "Back to the drop"));
  return false;
}

function soldOutOrHeld(answer) {
  endReserve(session.user().id, dropId);
  byId("place").textContent = "—";
  finish("Sold out for now", describe(answer), "bad",
    el("a", { class: "button secondary", href: `/drops/${dropId}` }, "Back to the drop"));
  return false;
}

async function main() {
  if (!ticket && !dropId) {
    byId("place").textContent = "—";
    finish("No place in line here", "There is no place in line in this address.", "bad",
      el("a", { class: "button secondary", href: "/" }, "See the drops"));
    return;
  }
  if (!ticket && !(await takePlace())) return;
  if (dropId) follow();
  await check();
}

main();
