// The drops page: active drops with price, a countdown to start, stock and latest buyers,
// all live over the WebSocket (new drops appear, ended or deleted ones go).

import { get } from "./api.js";
import { announce, byId, el, header, say } from "./chrome.js";
import { ACTIVE, applyMessage, emptyDrop, fromRead, statusNow } from "./drop-state.js";
import { ago, clock, money, secondsUntil } from "./format.js";
import { Live, soldOut } from "./live.js";
import { describe } from "./messages.js";

header();
const cards = new Map(); // drop id -> {drop, refs}
const list = byId("drops");

function makeCard(drop) {
  const refs = {
    link: el("a", { href: `/drops/${drop.id}` }),
    price: el("p", { class: "price" }),
    badge: el("span", { class: "badge" }),
    when: el("span", { class: "muted" }),
    available: el("strong", { class: "available" }),
    total: el("span", { class: "total" }),
    meter: el("meter", { min: 0, max: 1, value: 0, "aria-hidden": "true" }),
    queue: el("p", { class: "muted queue" }),
    feed: el("ol", { class: "feed", "aria-label": "Latest buyers" }),
  };
  const titleId = `drop-${drop.id}-name`;
  refs.node = el("li", { id: `drop-${drop.id}`, "data-drop-id": drop.id },
    el("article", { class: "card", "aria-labelledby": titleId },
      el("h2", { id: titleId }, refs.link),
      refs.price,
      el("p", { class: "status" }, refs.badge, " ", refs.when),
      el("p", { class: "stock" }, refs.available, " of ", refs.total, " left"),
      refs.meter, refs.queue, refs.feed));
  return refs;
}

function render(id) {
  const card = cards.get(id);
  if (!card) return;
  const { drop, refs } = card;
  refs.link.textContent = drop.name || "New drop";
  refs.price.textContent = money(drop.price_cents, drop.currency);
  const status = statusNow(drop);
  const stock = drop.stock;
  const gone = soldOut(stock);
  refs.badge.className = `badge ${gone ? "soldout" : status}`;
  refs.badge.textContent = gone ? "Sold out" : status === "live" ? "Live" : status === "scheduled" ? "Coming soon" : status;
  refs.when.textContent = status === "scheduled" && drop.starts_at ? `starts in ${clock(secondsUntil(drop.starts_at))}` : "";
  refs.available.textContent = stock ? String(stock.available) : "–";
  refs.total.textContent = stock ? String(stock.total) : "–";
  refs.meter.max = Math.max(1, stock ? stock.total : 1);
  refs.meter.value = stock ? stock.available : 0;
  const waiting = drop.queue ? drop.queue.waiting : 0;
  refs.queue.textContent = waiting > 0 && !gone ? `${waiting} in line` : "";
  refs.feed.replaceChildren(...drop.feed.map((p) => el("li", {}, p.username, " ",
    el("span", { class: "muted" }, `bought ${ago(p.purchased_at)}`))));
}

function upsert(drop) {
  const existing = cards.get(drop.id);
  if (existing) {
    existing.drop = drop;
  } else {
    const refs = makeCard(drop);
    cards.set(drop.id, { drop, refs });
    list.append(refs.node);
  }
  render(drop.id);
  byId("empty").hidden = cards.size > 0;
}

function remove(id) {
  const card = cards.get(id);
  if (!card) return;
  card.refs.node.remove();
  cards.delete(id);
  byId("empty").hidden = cards.size > 0;
}

function apply(message, live) {
  const id = message.drop_id;
  const card = cards.get(id);
  const drop = card ? card.drop : emptyDrop(id);
  const wasSoldOut = soldOut(drop.stock);
  const changed = applyMessage(drop, message);
  if (changed.has("deleted")) return remove(id);
  if (changed.has("fields")) {
    if (!ACTIVE.has(drop.status) || statusNow(drop) === "ended") return remove(id);
    if (!card) {
      live.know(id);
      upsert(drop);
      announce(`New drop: ${drop.name}`);
      return;
    }
  }
  if (!card) return; // a drop this page does not show
  render(id);
  if (!wasSoldOut && soldOut(drop.stock)) announce(`${drop.name} is sold out`);
}

function showState(state) {
  const text = { open: "", connecting: "Connecting to live updates…", reconnecting: "Live updates paused: reconnecting…",
    refused: "Live updates are unavailable: reload the page to see the latest stock.", closed: "" }[state];
  byId("live-state").textContent = text || "";
}

async function main() {
  let items = [];
  try {
    items = (await get("/api/drops?limit=50")).items;
  } catch (error) {
    say(describe(error.answer || "NETWORK"), "bad");
  }
  for (const read of items) upsert(fromRead(read));
  byId("empty").hidden = cards.size > 0;
  const live = new Live({ drops: null, fresh: items.map((d) => d.id) });
  live.addEventListener("message", (event) => apply(event.detail, live));
  live.addEventListener("state", (event) => showState(event.detail));
  live.start();
  setInterval(() => { for (const id of cards.keys()) render(id); }, 1000);
}

main();
