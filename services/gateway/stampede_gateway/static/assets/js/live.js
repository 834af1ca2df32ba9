// The notifier's WebSocket (API.md "Real time"): follow some drops (or all), get each
// drop's current state at once (`since=0`), then the live stream; reconnect with
// backoff and resume from the last seq seen per drop, so nothing is missed or applied
// twice. QUEUE_UPDATED is a state outside the drop's stream (it may repeat a seq), so it
// is ordered by its `at` instead.

import config from "./config.js";

const NO_RETRY = new Set([1002, 1008, 1009, 4400]); // the client itself is wrong: retrying won't help

export class Live extends EventTarget {
  /**
   * @param {object} options
   * @param {string[]|null} options.drops the drops to follow; null follows every drop
   * @param {string[]} [options.fresh] drops whose current state is wanted at once (default: `drops`)
   */
  constructor({ drops = null, fresh } = {}) {
    super();
    this.drops = drops;
    this.seqs = new Map(); // drop id -> last stream seq applied
    this.queueAt = new Map(); // drop id -> `at` of the last QUEUE_UPDATED applied
    for (const id of fresh || drops || []) this.seqs.set(id, 0);
    this.socket = null;
    this.attempt = 0;
    this.stopped = false;
    this.state = "connecting";
  }

  start() {
    this.stopped = false;
    this.connect();
    return this;
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    if (this.socket) this.socket.close(1000, "page done");
    this.socket = null;
    this.setState("closed");
  }

  get open() { return this.state === "open"; }

  /** Also follow the current state of a drop that appeared after connecting. */
  know(dropId) {
    if (!this.seqs.has(dropId)) this.seqs.set(dropId, 0);
  }

  url() {
    const params = new URLSearchParams();
    if (this.drops) params.set("drops", this.drops.join(","));
    if (this.seqs.size) {
      params.set("since", [...this.seqs].map(([id, seq]) => `${id}:${seq}`).join(","));
    }
    const query = params.toString();
    return query ? `${config.notifierUrl}?${query}` : config.notifierUrl;
  }

  connect() {
    let socket;
    try {
      socket = new WebSocket(this.url());
    } catch {
      this.retry();
      return;
    }
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.attempt = 0;
      this.setState("open");
    });
    socket.addEventListener("message", (event) => this.receive(event.data));
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.stopped) return;
      if (NO_RETRY.has(event.code)) {
        this.setState("refused");
        return;
      }
      this.retry();
    });
  }

  retry() {
    this.setState("reconnecting");
    const delay = Math.min(10_000, 500 * 2 ** this.attempt) * (0.5 + Math.random() / 2);
    this.attempt += 1;
    this.retryTimer = setTimeout(() => { if (!this.stopped) this.connect(); }, delay);
  }

  setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: state }));
  }

  receive(raw) {
    if (typeof raw !== "string" || raw === "pong") return;
    let message;
    try {
      message = JSON.parse(raw);
    } catch {
      return;
    }
    const { type, drop_id: dropId, seq } = message;
    if (type === "QUEUE_UPDATED") {
      const at = Date.parse(message.data.at || "") || 0;
      if (at && at < (this.queueAt.get(dropId) || 0)) return; // older figures
      this.queueAt.set(dropId, at);
    } else {
      if (seq <= (this.seqs.get(dropId) ?? -1)) return; // already applied
      this.seqs.set(dropId, seq);
    }
    this.dispatchEvent(new CustomEvent("message", { detail: message }));
    this.dispatchEvent(new CustomEvent(type, { detail: message }));
  }
}

/** The stock numbers of a STOCK_UPDATED, DROP_CREATED, DROP_UPDATED or SNAPSHOT. */
export function stockOf(data) {
  if (data.available_stock === undefined) return null;
  return { available: data.available_stock, total: data.total_stock, held: data.held, sold: data.sold };
}

/** Nothing available and nothing held: nothing will come back. */
export function soldOut(stock) {
  return Boolean(stock) && stock.available === 0 && stock.held === 0 && stock.total > 0;
}
