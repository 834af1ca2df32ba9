// What every page shares: the header's account state, messages in live regions, a
// polite announcer for screen readers, and small DOM helpers.

import * as session from "./session.js";

/** Show who is logged in in the header and the admin link to admins. */
export function header() {
  const render = () => {
    const user = session.user();
    const account = document.getElementById("nav-account");
    const admin = document.getElementById("nav-admin");
    if (account) account.textContent = user ? `Account (${user.username})` : "Log in";
    if (admin) admin.hidden = !(user && user.role === "admin");
  };
  render();
  session.onChange(render);
  for (const link of document.querySelectorAll(".site nav a")) {
    if (link.getAttribute("href") === location.pathname) link.setAttribute("aria-current", "page");
  }
}

/**
 * Say something in the page's message area. Errors go to a role="alert" region (read out
 * at once); the rest to a role="status" region (read out politely).
 * @param {string} text
 * @param {"good"|"bad"|"warn"|""} tone
 */
export function say(text, tone = "", where = "message") {
  const status = document.getElementById(where);
  const alert = document.getElementById(`${where}-alert`);
  const target = tone === "bad" && alert ? alert : status;
  const other = target === status ? alert : status;
  if (other) other.textContent = "";
  if (!target) return;
  target.className = `message ${tone}`;
  target.textContent = text;
}

let lastAnnounced = 0;
let pending = null;

/** Tell screen-reader users about a change, at most every few seconds (a falling stock
 * would otherwise talk over everything). `urgent` skips the wait. */
export function announce(text, urgent = false) {
  const region = document.getElementById("announcer");
  if (!region) return;
  const now = Date.now();
  clearTimeout(pending);
  const wait = urgent ? 0 : Math.max(0, lastAnnounced + 4000 - now);
  pending = setTimeout(() => {
    lastAnnounced = Date.now();
    region.textContent = text;
  }, wait);
}

/** An element with attributes and children (text or elements). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function byId(id) {
  return document.getElementById(id);
}

/** A same-site path from `?next=` (never another site). */
export function nextPath(fallback = "/") {
  const next = new URLSearchParams(location.search).get("next");
  return next && next.startsWith("/") && !next.startsWith("//") ? next : fallback;
}

export function loginLink(text = "Log in") {
  const next = encodeURIComponent(location.pathname + location.search);
  return el("a", { href: `/account?next=${next}` }, text);
}
