// One HTTP call to the public API: JSON in, JSON (or a problem document) out.
// No authentication here (session.js adds it through api.js); never throws for an
// HTTP status, only for a network failure (status 0), so callers decide per code.

export class Answer {
  constructor(status, body, headers) {
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
  get ok() { return this.status >= 200 && this.status < 300; }
  /** The problem document's code, "NETWORK" when the request never got an answer. */
  get code() {
    if (this.status === 0) return "NETWORK";
    return (this.body && this.body.code) || (this.ok ? "" : `HTTP_${this.status}`);
  }
  /** Seconds the server asked us to wait (Retry-After), or `fallback`. */
  retryAfter(fallback = 1) {
    const value = Number(this.headers && this.headers.get("Retry-After"));
    return Number.isFinite(value) && value > 0 ? value : fallback;
  }
}

export async function call(method, path, { body, headers = {}, signal } = {}) {
  const init = { method, headers: { Accept: "application/json", ...headers }, cache: "no-store", signal };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (error && error.name === "AbortError") throw error;
    return new Answer(0, { code: "NETWORK", detail: String(error) }, new Headers());
  }
  let parsed = null;
  const type = response.headers.get("Content-Type") || "";
  if (type.includes("json")) {
    try { parsed = await response.json(); } catch { parsed = null; }
  }
  return new Answer(response.status, parsed, response.headers);
}

export function sleep(seconds, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, seconds * 1000);
    if (signal) signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}
