// The buyer's session: tokens kept in sessionStorage (this tab only, gone when it closes),
// the access token refreshed before it expires, who is logged in. Refresh tokens rotate
// (each is spent once), so one refresh runs at a time.

import { call } from "./http.js";

const STORE = "stampede.session";
const changes = new EventTarget();
let state = load();
let refreshing = null;
let timer = null;

function load() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(STORE) || "null");
    return saved && saved.refreshExp > Date.now() ? saved : null;
  } catch {
    return null;
  }
}

function save(next) {
  state = next;
  if (next) sessionStorage.setItem(STORE, JSON.stringify(next));
  else sessionStorage.removeItem(STORE);
  schedule();
  changes.dispatchEvent(new Event("change"));
}

function fromPair(pair, user) {
  const now = Date.now();
  return {
    access: pair.access_token, refresh: pair.refresh_token,
    accessExp: now + pair.expires_in * 1000, refreshExp: now + pair.refresh_expires_in * 1000,
    user,
  };
}

/** Refresh this long before the access token expires (a fifth of its life, at most 60 s). */
function margin(s) {
  return Math.min(60_000, (s.accessExp - Date.now()) / 5);
}

function schedule() {
  clearTimeout(timer);
  if (!state) return;
  const due = Math.max(1_000, state.accessExp - margin(state) - Date.now());
  timer = setTimeout(() => { refresh().catch(() => {}); }, due);
}

export function user() {
  return state ? state.user : null;
}

export function onChange(listener) {
  changes.addEventListener("change", listener);
}

async function whoAmI(access) {
  const me = await call("GET", "/api/me", { headers: { Authorization: `Bearer ${access}` } });
  if (!me.ok) throw me;
  return me.body;
}

/** Log in; resolves to the user, or rejects with the API's Answer (e.g. INVALID_CREDENTIALS). */
export async function login(username, password) {
  const answer = await call("POST", "/api/auth/login", { body: { username, password } });
  if (!answer.ok) throw answer;
  const user = await whoAmI(answer.body.access_token);
  save(fromPair(answer.body, user));
  return user;
}

export async function signup(username, password) {
  const answer = await call("POST", "/api/auth/signup", { body: { username, password } });
  if (!answer.ok) throw answer;
  return login(username, password);
}

export async function logout() {
  const current = state;
  save(null);
  if (current) await call("POST", "/api/auth/logout", { body: { refresh_token: current.refresh } });
}

/** Trade the refresh token for a new pair; a refused one ends the session. */
export function refresh() {
  if (!state) return Promise.resolve(null);
  if (!refreshing) {
    const current = state;
    refreshing = (async () => {
      const answer = await call("POST", "/api/auth/refresh", { body: { refresh_token: current.refresh } });
      if (answer.ok) save(fromPair(answer.body, current.user));
      else if (answer.status === 401) save(null);
      else schedule(); // the network or the server failed: try again later
      return state ? state.access : null;
    })().finally(() => { refreshing = null; });
  }
  return refreshing;
}

/** A valid access token (refreshed first if it is about to expire), or null. */
export async function accessToken() {
  if (!state) return null;
  if (state.accessExp - Date.now() < 5_000) return refresh();
  return state.access;
}

schedule();
