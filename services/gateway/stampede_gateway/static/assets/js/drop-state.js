// A drop as the pages show it, from the API's read model (DropRead) and kept current by
// the WebSocket's messages: its public fields, stock, latest buyers and queue figures.

import { stockOf } from "./live.js";

export const ACTIVE = new Set(["scheduled", "live"]);

export function fromRead(read) {
  return {
    id: read.id, name: read.name, price_cents: read.price_cents, currency: read.currency,
    status: read.status, starts_at: read.starts_at, ends_at: read.ends_at,
    per_user_limit: read.per_user_limit, reservation_ttl_seconds: read.reservation_ttl_seconds,
    waiting_room: read.waiting_room || null,
    stock: { available: read.available_stock, total: read.total_stock, held: read.held, sold: read.sold },
    feed: (read.activity_feed && read.activity_feed.latest_purchasers) || [],
    queue: null, deleted: false,
  };
}

const FIELDS = ["name", "price_cents", "currency", "status", "starts_at", "ends_at",
  "per_user_limit", "reservation_ttl_seconds"];

/** Apply one WebSocket message to `drop` (created when absent); returns what changed. */
export function applyMessage(drop, message) {
  const { type, data } = message;
  const changed = new Set();
  const takeFields = (fields) => {
    for (const name of FIELDS) if (fields[name] !== undefined) drop[name] = fields[name];
    changed.add("fields");
  };
  const takeStock = (source) => {
    const stock = stockOf(source);
    if (stock) { drop.stock = stock; changed.add("stock"); }
  };
  switch (type) {
    case "DROP_CREATED":
    case "DROP_UPDATED":
      drop.deleted = false;
      takeFields(data);
      takeStock(data);
      break;
    case "STOCK_UPDATED":
      takeStock(data);
      break;
    case "ACTIVITY_UPDATED":
      drop.feed = data.latest_purchasers || [];
      changed.add("feed");
      break;
    case "QUEUE_UPDATED":
      drop.queue = data;
      changed.add("queue");
      break;
    case "DROP_DELETED":
      drop.deleted = true;
      changed.add("deleted");
      break;
    case "SNAPSHOT":
      if (data.deleted) { drop.deleted = true; changed.add("deleted"); break; }
      if (data.drop) takeFields(data.drop);
      takeStock(data);
      drop.feed = data.latest_purchasers || [];
      changed.add("feed");
      if (data.queue) { drop.queue = data.queue; changed.add("queue"); }
      break;
    default:
      break;
  }
  return changed;
}

/** The status now (the read model's may be a little old: a start time may have passed). */
export function statusNow(drop) {
  if (drop.status === "draft") return "draft";
  const now = Date.now();
  if (drop.ends_at && Date.parse(drop.ends_at) <= now) return "ended";
  if (drop.starts_at && Date.parse(drop.starts_at) > now) return "scheduled";
  return "live";
}

export function emptyDrop(id) {
  return { id, name: "", price_cents: 0, currency: "USD", status: "live", starts_at: null,
    ends_at: null, per_user_limit: 1, reservation_ttl_seconds: 60, waiting_room: null,
    stock: null, feed: [], queue: null, deleted: false };
}
