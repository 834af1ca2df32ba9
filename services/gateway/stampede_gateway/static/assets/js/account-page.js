// The account page: sign up, log in (then back to where the buyer came from, `?next=`),
// log out; my holds and my purchases.

import { get } from "./api.js";
import { byId, el, header, nextPath, say } from "./chrome.js";
import { clock, money, secondsUntil, when } from "./format.js";
import { describe } from "./messages.js";
import * as session from "./session.js";

header();
const names = new Map(); // drop id -> name (one look-up per drop)

function field(form, name) {
  return form.elements.namedItem(name);
}

/** Mark the fields the browser's own checks refuse, and say why; false if any. */
function valid(form) {
  let ok = true;
  for (const input of form.querySelectorAll("input")) {
    const bad = !input.checkValidity();
    input.setAttribute("aria-invalid", String(bad));
    if (bad && ok) {
      ok = false;
      input.focus();
      const label = form.querySelector(`label[for="${input.id}"]`);
      say(`${label ? label.textContent : "A field"}: ${input.validationMessage}`, "bad");
    }
  }
  return ok;
}

async function onLogin(event) {
  event.preventDefault();
  const form = event.currentTarget;
  if (!valid(form)) return;
  say("Logging in…");
  try {
    await session.login(field(form, "username").value.trim(), field(form, "password").value);
    afterLogin();
  } catch (answer) {
    say(describe(answer), "bad");
    field(form, "password").focus();
  }
}

async function onSignup(event) {
  event.preventDefault();
  const form = event.currentTarget;
  if (!valid(form)) return;
  say("Creating your account…");
  try {
    await session.signup(field(form, "username").value.trim(), field(form, "password").value);
    afterLogin();
  } catch (answer) {
    say(describe(answer), "bad");
    field(form, "username").focus();
  }
}

function afterLogin() {
  const next = nextPath("");
  if (next) {
    location.assign(next);
    return;
  }
  say(`Welcome, ${session.user().username}!`, "good");
  render();
}

async function dropName(id) {
  if (!names.has(id)) {
    names.set(id, get(`/api/drops/${id}`).then((d) => d.name).catch(() => "A drop"));
  }
  return names.get(id);
}

function dropLink(id) {
  const link = el("a", { href: `/drops/${id}` }, "…");
  dropName(id).then((name) => { link.textContent = name; });
  return link;
}

const HOLD_STATUS = { active: "Held", purchased: "Bought", cancelled: "Released", expired: "Expired" };

async function loadOrders() {
  const [holds, purchases] = await Promise.allSettled([
    get("/api/me/reservations?limit=20"), get("/api/me/purchases?limit=20")]);
  if (holds.status === "fulfilled") {
    const rows = holds.value.items.map((r) => {
      const active = r.status === "active" && secondsUntil(r.expires_at) > 0;
      return el("tr", {},
        el("td", { "data-label": "Drop" }, dropLink(r.drop_id)),
        el("td", { "data-label": "Status" }, active ? "Held" : HOLD_STATUS[r.status] || (r.status === "active" ? "Expired" : r.status)),
        el("td", { "data-label": "Pairs" }, String(r.quantity)),
        el("td", { "data-label": "Until" }, active
          ? el("span", { class: "hold-left", "data-expires": r.expires_at }, clock(secondsUntil(r.expires_at)))
          : when(r.expires_at)));
    });
    byId("holds").replaceChildren(...rows);
    byId("holds-table").hidden = rows.length === 0;
    byId("holds-empty").hidden = rows.length > 0;
  } else {
    say(describe(holds.reason.answer || "NETWORK"), "bad");
  }
  if (purchases.status === "fulfilled") {
    const rows = purchases.value.items.map((p) => el("tr", {},
      el("td", { "data-label": "Drop" }, dropLink(p.drop_id)),
      el("td", { "data-label": "Pairs" }, String(p.quantity)),
      el("td", { "data-label": "Paid" }, money(p.amount_cents, p.currency)),
      el("td", { "data-label": "When" }, when(p.created_at))));
    byId("purchases").replaceChildren(...rows);
    byId("purchases-table").hidden = rows.length === 0;
    byId("purchases-empty").hidden = rows.length > 0;
  }
}

function render() {
  const user = session.user();
  byId("signed-out").hidden = Boolean(user);
  byId("signed-in").hidden = !user;
  byId("account-title").textContent = user ? "Your account" : "Log in or sign up";
  if (user) {
    byId("who").textContent = user.username;
    byId("who-role").textContent = user.role === "admin" ? "admin" : "buyer";
    loadOrders();
  }
}

byId("login-form").addEventListener("submit", onLogin);
byId("signup-form").addEventListener("submit", onSignup);
byId("logout").addEventListener("click", async () => {
  await session.logout();
  say("You are logged out.", "good");
  render();
  byId("login-username").focus();
});
setInterval(() => {
  for (const node of document.querySelectorAll(".hold-left")) {
    const left = secondsUntil(node.dataset.expires);
    node.textContent = left > 0 ? clock(left) : "expired";
  }
}, 1000);
render();
