// The admin page: create a drop (with its waiting room), restock, change the admission
// rate; every drop's stock and queue figures live (QUEUE_UPDATED pushes, and the
// admin's GET /api/drops/{id}/waiting-room once per drop to start from).

import { api, get } from "./api.js";
import { byId, el, header, loginLink, say } from "./chrome.js";
import { applyMessage, emptyDrop, fromRead, statusNow } from "./drop-state.js";
import { money, toMinor } from "./format.js";
import { Live } from "./live.js";
import { describe } from "./messages.js";
import * as session from "./session.js";

header();
const rows = new Map(); // drop id -> {drop, refs}
const FIGURES = [["available", "Available"], ["held", "Held"], ["sold", "Sold"], ["total", "Total"],
  ["waiting", "In line"], ["serving", "Let in"], ["issued", "Places given"], ["rate", "Per second"]];

function inputField(id, label, attributes) {
  return el("div", { class: "field" }, el("label", { for: id }, label), el("input", { id, ...attributes }));
}

function makeRow(drop) {
  const id = drop.id;
  const refs = { figures: {}, link: el("a", { href: `/drops/${id}` }), badge: el("span", { class: "badge" }),
    price: el("span", { class: "muted" }), message: el("p", { class: "message", role: "status" }) };
  const list = el("dl", { class: "figures" }, FIGURES.map(([key, label]) => {
    refs.figures[key] = el("dd", { "data-figure": key }, "–");
    return el("div", {}, el("dt", {}, label), refs.figures[key]);
  }));
  const restock = el("form", { class: "inline-form", "aria-label": `Restock ${drop.name}` },
    inputField(`restock-${id}`, "New total stock", { type: "number", min: 0, step: 1, required: true, inputmode: "numeric", name: "total_stock" }),
    el("button", { type: "submit", class: "secondary" }, "Restock"));
  refs.modeSelect = el("select", { id: `mode-${id}`, name: "mode" },
    el("option", { value: "fifo" }, "First come, first served"), el("option", { value: "lottery" }, "Lottery"));
  const rate = el("form", { class: "inline-form", "aria-label": `Admission rate of ${drop.name}` },
    inputField(`rate-${id}`, "Buyers let in per second", { type: "number", min: 0.01, step: "any", required: true, inputmode: "decimal", name: "admit_per_s" }),
    el("div", { class: "field" }, el("label", { for: `mode-${id}` }, "Order in line"), refs.modeSelect),
    el("button", { type: "submit", class: "secondary" }, "Change admission"));
  refs.modeSelect.addEventListener("change", () => { refs.modeChosen = true; });
  restock.addEventListener("submit", (event) => { event.preventDefault(); onRestock(id, restock); });
  rate.addEventListener("submit", (event) => { event.preventDefault(); onRate(id, rate); });
  refs.node = el("li", { id: `admin-drop-${id}` }, el("article", { class: "panel", "aria-labelledby": `admin-drop-${id}-name` },
    el("h3", { id: `admin-drop-${id}-name` }, refs.link, " ", refs.badge, " ", refs.price),
    list, restock, rate, refs.message));
  return refs;
}

function render(id) {
  const { drop, refs } = rows.get(id);
  refs.link.textContent = drop.name || "New drop";
  const status = statusNow(drop);
  refs.badge.className = `badge ${status}`;
  refs.badge.textContent = status;
  refs.price.textContent = money(drop.price_cents, drop.currency);
  const stock = drop.stock || {};
  const queue = drop.queue || {};
  const rate = queue.admit_per_s ?? (drop.waiting_room ? drop.waiting_room.admit_per_s : undefined);
  const values = { available: stock.available, held: stock.held, sold: stock.sold, total: stock.total,
    waiting: queue.waiting ?? 0, serving: queue.serving ?? 0, issued: queue.issued ?? 0, rate };
  for (const [key] of FIGURES) refs.figures[key].textContent = values[key] === undefined ? "–" : String(values[key]);
  if (drop.waiting_room && !refs.modeChosen) refs.modeSelect.value = drop.waiting_room.mode;
}

function upsert(drop) {
  if (!rows.has(drop.id)) {
    const refs = makeRow(drop);
    rows.set(drop.id, { drop, refs });
    byId("admin-drops").prepend(refs.node);
  } else {
    rows.get(drop.id).drop = drop;
  }
  render(drop.id);
  byId("admin-empty").hidden = rows.size > 0;
}

async function loadFigures(id) {
  const answer = await api("GET", `/api/drops/${id}/waiting-room`);
  const row = rows.get(id);
  if (!answer.ok || !row) return;
  // the pushed figures are at least as new: keep them if some came meanwhile
  if (!row.drop.queue) row.drop.queue = { ...answer.body, at: null };
  else row.drop.queue.admit_per_s = answer.body.admit_per_s;
  render(id);
}

function rowSay(id, text, tone) {
  const { refs } = rows.get(id);
  refs.message.className = `message ${tone}`;
  refs.message.textContent = text;
}

async function onRestock(id, form) {
  const input = form.elements.namedItem("total_stock");
  if (!input.checkValidity()) { input.setAttribute("aria-invalid", "true"); rowSay(id, `New total stock: ${input.validationMessage}`, "bad"); input.focus(); return; }
  input.setAttribute("aria-invalid", "false");
  rowSay(id, "Restocking…", "");
  const answer = await api("POST", `/api/drops/${id}/restock`, { body: { total_stock: Number(input.value) } });
  if (answer.ok) {
    const row = rows.get(id);
    row.drop = { ...fromRead(answer.body), queue: row.drop.queue };
    render(id);
    rowSay(id, `Total stock is now ${answer.body.total_stock}.`, "good");
    form.reset();
  } else rowSay(id, describe(answer), "bad");
}

async function onRate(id, form) {
  const input = form.elements.namedItem("admit_per_s");
  if (!input.checkValidity()) { input.setAttribute("aria-invalid", "true"); rowSay(id, `Buyers let in per second: ${input.validationMessage}`, "bad"); input.focus(); return; }
  input.setAttribute("aria-invalid", "false");
  rowSay(id, "Changing the admission rate…", "");
  const waitingRoom = { admit_per_s: Number(input.value), mode: form.elements.namedItem("mode").value };
  const answer = await api("PATCH", `/api/drops/${id}`, { body: { waiting_room: waitingRoom } });
  if (answer.ok) {
    const row = rows.get(id);
    row.drop = { ...fromRead(answer.body), queue: row.drop.queue };
    if (row.drop.queue) row.drop.queue.admit_per_s = waitingRoom.admit_per_s;
    row.refs.modeChosen = false;
    render(id);
    rowSay(id, `Now letting in ${waitingRoom.admit_per_s} buyers per second (${waitingRoom.mode}).`, "good");
    form.reset();
  } else rowSay(id, describe(answer), "bad");
}

function localToIso(value) {
  return value ? new Date(value).toISOString() : undefined;
}

function markInvalid(form, answer) {
  const names = new Set((answer.body && answer.body.errors || []).map((e) => e.loc[e.loc.length - 1]));
  const alias = { price_cents: "price" };
  for (const input of form.querySelectorAll("input")) {
    const bad = names.has(input.name) || [...names].some((n) => alias[n] === input.name);
    input.setAttribute("aria-invalid", String(bad));
  }
}

async function onCreate(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const value = (name) => form.elements.namedItem(name).value.trim();
  for (const input of form.querySelectorAll("input")) {
    const bad = !input.checkValidity();
    input.setAttribute("aria-invalid", String(bad));
    if (bad) {
      input.focus();
      say(`${form.querySelector(`label[for="${input.id}"]`).textContent}: ${input.validationMessage}`, "bad");
      return;
    }
  }
  const currency = value("currency").toUpperCase();
  const body = {
    name: value("name"), price_cents: toMinor(value("price"), currency), currency,
    total_stock: Number(value("total_stock")), per_user_limit: Number(value("per_user_limit") || 1),
    reservation_ttl_seconds: Number(value("reservation_ttl_seconds") || 60),
  };
  if (value("starts_at")) body.starts_at = localToIso(value("starts_at"));
  if (value("ends_at")) body.ends_at = localToIso(value("ends_at"));
  if (value("admit_per_s")) body.waiting_room = { admit_per_s: Number(value("admit_per_s")), mode: value("mode") };
  else if (value("mode") === "lottery") {
    say("A lottery needs its admission rate: fill in “Buyers let in per second”.", "bad");
    byId("f-rate").focus();
    return;
  }
  say("Creating the drop…");
  const answer = await api("POST", "/api/drops", { body });
  if (!answer.ok) {
    markInvalid(form, answer);
    say(describe(answer), "bad");
    return;
  }
  const drop = fromRead(answer.body);
  upsert(drop);
  loadFigures(drop.id);
  say(`Created “${drop.name}”: ${drop.stock.total} pairs at ${money(drop.price_cents, drop.currency)}.`, "good");
  form.reset();
  byId("f-name").focus();
}

async function main() {
  const user = session.user();
  if (!user || user.role !== "admin") {
    byId("not-admin").hidden = false;
    byId("not-admin").replaceChildren("This page is for admins. ", loginLink("Log in as an admin"), ".");
    return;
  }
  byId("admin-area").hidden = false;
  byId("create-form").addEventListener("submit", onCreate);
  let items = [];
  try {
    items = (await get("/api/drops?active=false&limit=100")).items;
  } catch (error) {
    say(describe(error.answer || "NETWORK"), "bad");
  }
  for (const read of items.reverse()) upsert(fromRead(read));
  byId("admin-empty").hidden = rows.size > 0;
  const live = new Live({ drops: null, fresh: items.map((d) => d.id) });
  live.addEventListener("message", (event) => {
    const message = event.detail;
    const row = rows.get(message.drop_id);
    const drop = row ? row.drop : emptyDrop(message.drop_id);
    const changed = applyMessage(drop, message);
    if (changed.has("deleted")) {
      if (row) { row.refs.node.remove(); rows.delete(message.drop_id); }
      return;
    }
    if (row) render(message.drop_id);
    else if (changed.has("fields")) { live.know(drop.id); upsert(drop); }
  });
  live.addEventListener("state", (event) => {
    byId("live-state").textContent = event.detail === "reconnecting" ? "Live figures paused: reconnecting…" : "";
  });
  live.start();
  for (const read of items) if (["live", "scheduled"].includes(read.status)) await loadFigures(read.id);
}

main();
