// Money, times and countdowns as people read them (the browser's locale).

const digitsCache = new Map();

function fractionDigits(currency) {
  if (!digitsCache.has(currency)) {
    let digits = 2;
    try {
      digits = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
    } catch { /* an unknown code: assume cents */ }
    digitsCache.set(currency, digits);
  }
  return digitsCache.get(currency);
}

/** Integer minor units -> "$180.00" (JPY has none, so 1800 -> "¥1,800"). */
export function money(minor, currency = "USD") {
  const value = minor / 10 ** fractionDigits(currency);
  try {
    return new Intl.NumberFormat(undefined, { style: "currency", currency }).format(value);
  } catch {
    return `${value.toFixed(fractionDigits(currency))} ${currency}`;
  }
}

/** Major units typed in a form -> integer minor units. */
export function toMinor(text, currency = "USD") {
  return Math.round(Number(text) * 10 ** fractionDigits(currency));
}

/** Seconds -> "1:05", "12:00:03" (for countdowns). */
export function clock(totalSeconds) {
  const s = Math.max(0, Math.ceil(totalSeconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

/** Seconds -> "about 40 seconds" / "about 3 minutes" (for estimates). */
export function roughly(seconds) {
  if (seconds < 1) return "a moment";
  if (seconds < 90) return `about ${Math.ceil(seconds)} second${Math.ceil(seconds) === 1 ? "" : "s"}`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 90) return `about ${minutes} minutes`;
  return `about ${Math.round(minutes / 60)} hours`;
}

/** An ISO time -> "today at 14:05" style text. */
export function when(iso) {
  const date = new Date(iso);
  const today = new Date();
  const time = date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  if (date.toDateString() === today.toDateString()) return `today at ${time}`;
  return `on ${date.toLocaleDateString(undefined, { month: "short", day: "numeric" })} at ${time}`;
}

/** An ISO time in the past -> "just now", "3 min ago". */
export function ago(iso) {
  const seconds = (Date.now() - new Date(iso).getTime()) / 1000;
  if (seconds < 45) return "just now";
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return when(iso);
}

/** Seconds until an ISO time (negative once passed). */
export function secondsUntil(iso) {
  return (new Date(iso).getTime() - Date.now()) / 1000;
}
