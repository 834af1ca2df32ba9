// A drop's page: reserve (one Idempotency-Key per intended reserve, kept across retries
// and the waiting room's round trip), the hold's countdown, purchase, release; stock,
// latest buyers and the queue live. Back from the waiting room with an admitted ticket,
// the page sends the reserve again by itself, with that ticket and the same key.

import { api, get } from "./api.js";
import { announce, byId, el, header, loginLink, say } from "./chrome.js";
import { applyMessage, emptyDrop, fromRead, statusNow } from "./drop-state.js";
import { ago, clock, money, secondsUntil, when } from "./format.js";
import { beginReserve, endReserve, forgetHold, keepHold, knownHold, pendingReserve, updateReserve } from "./intents.js";
import { Live, soldOut } from "./live.js";
import { describe } from "./messages.js";
import { submit } from "./order-path.js";
import * as session from "./session.js";

header();
const dropId = location.pathname.split("/")[2];
const MAX_RETURNS = 3; // trips to the waiting room for one reserve before asking the buyer
let drop = emptyDrop(dropId);
let known = false; // some source told us the drop's fields
let hold = null; // {reservation, purchaseKey, cancelKey}
let bought = null;
let busy = false;
let lastAvailable = null;

const me = () => session.user();

function waitingNote(answer, seconds) {
  say(`${describe(answer, { drop })} Trying again in ${Math.ceil(seconds)} s…`, "warn");
}

// -- rendering -------------------------------------------------------------------------
function renderDrop() {
  if (!known) return;
  document.title = `${drop.name} · Stampede`;
  byId("drop-name").textContent = drop.name;
  byId("price").textContent = money(drop.price_cents, drop.currency);
  renderSchedule();
  renderStock();
  renderFeed();
  renderBuy();
}

function renderSchedule() {
  const status = statusNow(drop);
  const gone = soldOut(drop.stock);
  const badge = byId("status-badge");
  badge.className = `badge ${gone ? "soldout" : status}`;
  badge.textContent = gone ? "Sold out" : { live: "Live", scheduled: "Coming soon", ended: "Ended", draft: "Not public" }[status];
  let text = "";
  if (status === "scheduled" && drop.starts_at) text = `Starts in ${clock(secondsUntil(drop.starts_at))} (${when(drop.starts_at)})`;
  else if (status === "live" && drop.ends_at) text = `Ends ${when(drop.ends_at)}`;
  else if (status === "ended") text = "This drop has ended.";
  byId("schedule-text").textContent = text;
}

function renderStock() {
  const stock = drop.stock;
  if (!stock) return;
  byId("stock-available").textContent = String(stock.available);
  byId("stock-total").textContent = String(stock.total);
  const meter = byId("stock-meter");
  meter.max = Math.max(1, stock.total);
  meter.value = stock.available;
  let note = "";
  if (soldOut(stock)) note = " — sold out";
  else if (stock.available === 0) note = ` — all held right now; a pair comes back if a hold lapses`;
  byId("stock-note").textContent = note;
  if (lastAvailable !== null && stock.available !== lastAvailable) {
    announce(soldOut(stock) ? "Sold out." : `${stock.available} of ${stock.total} left.`, soldOut(stock));
  }
  lastAvailable = stock.available;
}

function renderFeed() {
  byId("feed").replaceChildren(...drop.feed.map((p) => el("li", {}, el("strong", {}, p.username),
    " ", el("span", { class: "muted" }, `bought ${p.quantity > 1 ? `${p.quantity} pairs ` : ""}${ago(p.purchased_at)}`))));
  byId("feed-empty").hidden = drop.feed.length > 0;
}

function renderQueue() {
  const waiting = drop.queue ? drop.queue.waiting : 0;
  byId("queue-note").textContent = waiting > 0
    ? `${waiting} buyer${waiting === 1 ? " is" : "s are"} waiting in line: a reserve now takes a place in the waiting room.`
    : "";
}

function renderBuy() {
  const user = me();
  const prompt = byId("login-prompt");
  prompt.hidden = Boolean(user);
  if (!user) prompt.replaceChildren(loginLink("Log in"), " or create an account to buy a pair.");
  byId("hold").hidden = !hold;
  byId("bought").hidden = !bought;
  const area = byId("reserve-area");
  area.hidden = !user || Boolean(hold) || !known;
  if (hold) {
    const amount = drop.price_cents * hold.reservation.quantity;
    byId("purchase").textContent = `Buy it for ${money(amount, drop.currency)}`;
    byId("hold-until").textContent = new Date(hold.reservation.expires_at).toLocaleTimeString();
    byId("hold-until").setAttribute("datetime", hold.reservation.expires_at);
    renderCountdown();
  }
  for (const id of ["purchase", "cancel"]) byId(id).disabled = busy;
  const button = byId("reserve");
  const status = statusNow(drop);
  const stock = drop.stock;
  let label = "Reserve a pair";
  let enabled = !busy;
  if (busy) label = "Reserving…";
  else if (status === "scheduled") { label = "Not on sale yet"; enabled = false; }
  else if (status === "ended" || status === "draft") { label = "Not on sale"; enabled = false; }
  else if (soldOut(stock)) { label = "Sold out"; enabled = false; }
  else if (stock && stock.available === 0) { label = "All held right now"; enabled = false; }
  else if (user && pendingReserve(user.id, dropId)) label = "Reserve a pair (try again)";
  button.textContent = label;
  button.disabled = !enabled;
  byId("reserve-help").textContent = `A hold keeps one pair for you for ${drop.reservation_ttl_seconds} s while you pay.`;
}

function renderCountdown() {
  if (!hold) return;
  const left = secondsUntil(hold.reservation.expires_at);
  byId("hold-countdown").textContent = clock(left);
  if (left <= 0) holdEnded("Your hold expired and the pair went back on sale.", "warn");
  else if (Math.ceil(left) === 10) announce("10 seconds left on your hold.", true);
}

function holdEnded(text, tone) {
  if (!hold) return;
  const user = me();
  if (user) forgetHold(user.id, dropId);
  hold = null;
  say(text, tone);
  renderBuy();
}

// -- actions ---------------------------------------------------------------------------
async function reserve({ auto = false } = {}) {
  const user = me();
  if (!user || busy) return;
  busy = true;
  byId("queue-again").hidden = true;
  renderBuy();
  const attempt = beginReserve(user.id, dropId);
  say(auto ? "It is your turn! Reserving your pair…" : "Reserving…");
  const result = await submit("POST", `/api/drops/${dropId}/reserve`, {
    key: attempt.key, ticket: attempt.ticket, body: { quantity: 1 }, onWait: waitingNote,
  });
  busy = false;
  if (result.kind === "done") {
    endReserve(user.id, dropId);
    showHold(keepHold(user.id, dropId, result.body.reservation));
    return;
  }
  if (result.kind === "queued") {
    const returns = (attempt.returns || 0) + 1;
    updateReserve(user.id, dropId, { ticket: null, returns });
    if (returns <= MAX_RETURNS) {
      say("Lots of buyers right now: taking you to the waiting room…");
      location.assign(`/waiting-room?ticket=${encodeURIComponent(result.ticket)}&drop=${dropId}`);
      return;
    }
    offerQueue("The waiting room keeps sending you back.");
    return;
  }
  refusedReserve(result.answer);
}

function refusedReserve(answer) {
  const user = me();
  const code = answer.code;
  if (code === "TICKET_INVALID") {
    updateReserve(user.id, dropId, { ticket: null });
    offerQueue(describe(answer));
  } else if (code === "ALREADY_RESERVED") {
    endReserve(user.id, dropId);
    say(describe(answer, { drop }), "warn");
    findHold();
  } else if (["UNAUTHORIZED", "INVALID_TOKEN"].includes(code)) {
    say(describe(answer), "bad");
  } else if (["NETWORK", "RATE_LIMITED", "UPSTREAM_UNAVAILABLE", "INVENTORY_TIMEOUT",
    "SERVICE_UNAVAILABLE", "INTERNAL_ERROR", "REQUEST_IN_PROGRESS"].includes(code)) {
    say(describe(answer, { drop }), "bad"); // kept: "try again" sends the same key
  } else {
    endReserve(user.id, dropId); // a final no: the next reserve is a new request
    say(describe(answer, { drop }), "bad");
  }
  renderBuy();
}

function offerQueue(text) {
  say(text, "bad");
  const link = byId("queue-again-link");
  link.href = `/waiting-room?drop=${dropId}`;
  byId("queue-again").hidden = false;
  renderBuy();
}

function showHold(known) {
  hold = known;
  bought = null;
  say(`You hold a pair of ${drop.name}. Buy it before the time runs out.`, "good");
  renderBuy();
  byId("hold-title").focus();
}

async function purchase() {
  const user = me();
  if (!user || !hold || busy) return;
  busy = true;
  renderBuy();
  say("Paying…");
  const result = await submit("POST", `/api/drops/${dropId}/purchase`, {
    key: hold.purchaseKey, body: { reservation_id: hold.reservation.id }, onWait: waitingNote,
  });
  busy = false;
  if (result.kind === "done") {
    const p = result.body.purchase;
    forgetHold(user.id, dropId);
    hold = null;
    bought = p;
    byId("bought-detail").textContent = `Paid ${money(p.amount_cents, p.currency)} for ${p.quantity} pair${p.quantity > 1 ? "s" : ""}. Order ${p.id.slice(0, 8)}.`;
    say("Purchase complete.", "good");
    renderBuy();
    byId("bought-title").focus();
    return;
  }
  const code = result.answer.code;
  if (["RESERVATION_EXPIRED", "NO_ACTIVE_RESERVATION", "RESERVATION_NOT_FOUND"].includes(code)) {
    holdEnded(describe(result.answer), "bad");
  } else {
    say(describe(result.answer, { drop }), "bad");
    renderBuy();
  }
}

async function release() {
  const user = me();
  if (!user || !hold || busy) return;
  busy = true;
  renderBuy();
  const result = await submit("DELETE", `/api/reservations/${hold.reservation.id}`, {
    key: hold.cancelKey, onWait: waitingNote,
  });
  busy = false;
  if (result.kind === "done") {
    holdEnded("Released: the pair is back on sale.", "good");
    byId("reserve").focus();
    return;
  }
  const code = result.answer.code;
  if (["NO_ACTIVE_RESERVATION", "RESERVATION_NOT_FOUND", "RESERVATION_EXPIRED"].includes(code)) {
    holdEnded(describe(result.answer), "warn");
  }
  else { say(describe(result.answer), "bad"); renderBuy(); }
}

/** The buyer's active hold on this drop: this tab's, else the API's list of holds. */
async function findHold() {
  const user = me();
  if (!user) return;
  let found = knownHold(user.id, dropId);
  if (!found) {
    const answer = await api("GET", "/api/me/reservations?limit=50");
    const active = answer.ok && answer.body.items.find((r) => r.drop_id === dropId
      && r.status === "active" && secondsUntil(r.expires_at) > 0);
    if (active) found = keepHold(user.id, dropId, active);
  }
  if (found) { hold = found; renderBuy(); }
}

// -- live ------------------------------------------------------------------------------
function onMessage(message) {
  if (message.type === "RESERVATION_EXPIRED" && hold && message.data.reservation_id === hold.reservation.id) {
    holdEnded("Your hold expired and the pair went back on sale.", "warn");
  }
  const changed = applyMessage(drop, message);
  if (changed.has("deleted")) {
    say("This drop has been withdrawn.", "bad");
    byId("reserve-area").hidden = true;
    return;
  }
  if (changed.has("fields")) {
    if (!known) say(""); // e.g. the read model had not caught up with a new drop yet
    known = true;
    renderDrop();
  }
  if (changed.has("stock")) { renderStock(); renderSchedule(); renderBuy(); }
  if (changed.has("feed")) renderFeed();
  if (changed.has("queue")) renderQueue();
}

function showState(state) {
  const text = { reconnecting: "Live updates paused: reconnecting…",
    refused: "Live updates are unavailable: reload the page to see the latest stock." }[state];
  byId("live-state").textContent = text || "";
}

async function main() {
  byId("reserve").addEventListener("click", () => reserve());
  byId("purchase").addEventListener("click", purchase);
  byId("cancel").addEventListener("click", release);
  session.onChange(renderBuy);
  const live = new Live({ drops: [dropId] });
  live.addEventListener("message", (event) => onMessage(event.detail));
  live.addEventListener("state", (event) => showState(event.detail));
  live.start();
  try {
    const read = fromRead(await get(`/api/drops/${dropId}`));
    // the WebSocket's figures are newer than the read model's: keep them if already here
    drop = { ...read, stock: drop.stock || read.stock, queue: drop.queue,
      feed: drop.feed.length ? drop.feed : read.feed };
    known = true;
    renderDrop();
  } catch (error) {
    if (!known) {
      byId("drop-name").textContent = "Drop not found";
      say(describe(error.answer || "NETWORK", { drop }), "bad");
    }
  }
  renderBuy();
  const user = me();
  if (user) {
    await findHold();
    const pending = pendingReserve(user.id, dropId);
    if (pending && pending.ticket && !hold) reserve({ auto: true });
  }
  setInterval(() => { renderCountdown(); if (statusNow(drop) === "scheduled") { renderSchedule(); renderBuy(); } }, 250);
  setInterval(renderFeed, 15_000);
}

main();
