// One date format for the whole page: the browser's locale, the account's timezone, Intl.DateTimeFormat.
// "Today 09:00", "Tomorrow", "Fri 5 Dec", "Fri 5 Dec 2027 09:00". Whole days ("YYYY-MM-DD") are calendar days,
// not moments, so they are formatted as they are, never shifted by a timezone.

const formatters = new Map();
let relative = null;

/** A cached Intl.DateTimeFormat for the browser's locale in `timeZone` (UTC when the browser lacks the zone). */
function formatter(timeZone, options) {
  const key = `${timeZone}|${JSON.stringify(options)}`;
  let made = formatters.get(key);
  if (!made) {
    try {
      made = new Intl.DateTimeFormat(undefined, { ...options, timeZone });
    } catch {
      made = new Intl.DateTimeFormat(undefined, { ...options, timeZone: "UTC" });
    }
    formatters.set(key, made);
  }
  return made;
}

function parts(date, timeZone, options) {
  const out = {};
  for (const part of formatter(timeZone, options).formatToParts(date)) out[part.type] = part.value;
  return out;
}

/** "YYYY-MM-DD": the calendar day of a moment in a timezone. */
export function dayKey(date, timeZone) {
  const p = parts(date, timeZone, { year: "numeric", month: "2-digit", day: "2-digit" });
  return `${p.year}-${p.month}-${p.day}`;
}

/** "HH:MM" (24 h): the wall-clock time of a moment in a timezone, as a time input wants it. */
export function timeKey(date, timeZone) {
  const p = parts(date, timeZone, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  return `${p.hour}:${p.minute}`;
}

function dayNumber(key) {
  const [y, m, d] = key.split("-").map(Number);
  return Date.UTC(y, m - 1, d) / 86_400_000;
}

function capitalized(text) {
  return text ? text.charAt(0).toLocaleUpperCase() + text.slice(1) : text;
}

/** A calendar day: "Yesterday", "Today", "Tomorrow" in the locale's words, else "Fri 5 Dec" (+ year if not this). */
export function formatDay(key, timeZone, now = new Date()) {
  const today = dayKey(now, timeZone);
  const offset = dayNumber(key) - dayNumber(today);
  if (Math.abs(offset) <= 1) {
    relative ??= new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
    return capitalized(relative.format(offset, "day"));
  }
  const options = { weekday: "short", day: "numeric", month: "short" };
  if (key.slice(0, 4) !== today.slice(0, 4)) options.year = "numeric";
  const [y, m, d] = key.split("-").map(Number);
  return formatter("UTC", options).format(new Date(Date.UTC(y, m - 1, d)));
}

/** A time of day in the locale's style ("09:00", "9:00 AM"). */
export function formatTime(date, timeZone) {
  return formatter(timeZone, { hour: "2-digit", minute: "2-digit" }).format(date);
}

/** A moment (Date or ISO string): "Today 09:00", "Fri 5 Dec 09:00". */
export function formatMoment(value, timeZone, now = new Date()) {
  const date = value instanceof Date ? value : new Date(value);
  return `${formatDay(dayKey(date, timeZone), timeZone, now)} ${formatTime(date, timeZone)}`;
}

/** A moment (ISO datetime) or a whole day ("YYYY-MM-DD"), as lists of dues mix them. */
export function formatWhen(value, timeZone, now = new Date()) {
  return /^\d{4}-\d{2}-\d{2}$/.test(value) ? formatDay(value, timeZone, now) : formatMoment(value, timeZone, now);
}

/** A due as the API shapes it ({due_at, due_date, all_day}): the moment, or the day of an all-day due; "" if none. */
export function formatDue(due, timeZone, now = new Date()) {
  if (due.due_at) return formatMoment(due.due_at, timeZone, now);
  if (due.due_date) return formatDay(due.due_date, timeZone, now);
  return "";
}
