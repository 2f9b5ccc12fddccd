/** Durations and memory sizes as users write them in pipeline files. */

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;
/** For the default `timeout` and the longest `start_in`. */
export const HOUR_MS = HOUR;
export const WEEK_MS = WEEK;

const durationUnits: Record<string, number> = {
  ms: 1, msec: 1, msecs: 1, millisecond: 1, milliseconds: 1,
  s: SECOND, sec: SECOND, secs: SECOND, second: SECOND, seconds: SECOND,
  m: MINUTE, min: MINUTE, mins: MINUTE, minute: MINUTE, minutes: MINUTE,
  h: HOUR, hr: HOUR, hrs: HOUR, hour: HOUR, hours: HOUR,
  d: DAY, day: DAY, days: DAY,
  w: WEEK, wk: WEEK, wks: WEEK, week: WEEK, weeks: WEEK,
  // GitLab (chronic_duration) counts a month as 30 days and a year as 365.
  mo: 30 * DAY, month: 30 * DAY, months: 30 * DAY,
  y: 365 * DAY, yr: 365 * DAY, yrs: 365 * DAY, year: 365 * DAY, years: 365 * DAY,
};

/** Longer than any sensible timeout or retention; keeps results finite and exact. */
const MAX_DURATION_MS = 100 * 365 * DAY;

/**
 * Parses a human duration into milliseconds, or null when it is not one.
 * Accepts what GitLab accepts: `90s`, `10m`, `1h 30m`, `2 days`, `1 week`, `3 mins`,
 * `1 hour and 20 minutes`, `1.5h`, a plain number of seconds (`90`), and clock forms
 * `1:30` (m:ss) and `1:02:03` (h:mm:ss).
 */
export function parseDuration(text: string): number | null {
  const input = text.trim().toLowerCase();
  if (input === '' || input.length > 200) return null;
  if (/^\d+(\.\d+)?$/.test(input)) return finite(Number(input) * SECOND);
  const clock = /^(\d+):([0-5]?\d)(?::([0-5]?\d))?$/.exec(input);
  if (clock) {
    const [, a = '0', b = '0', c] = clock;
    return c === undefined
      ? finite(Number(a) * MINUTE + Number(b) * SECOND)
      : finite(Number(a) * HOUR + Number(b) * MINUTE + Number(c) * SECOND);
  }
  const part = /(?:\s*(?:,|\band\b))?\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-z]+)\s*/y;
  let total = 0;
  let index = 0;
  while (index < input.length) {
    part.lastIndex = index;
    const match = part.exec(input);
    if (!match) return null;
    const unit = durationUnits[match[2] ?? ''];
    if (unit === undefined) return null;
    total += Number(match[1]) * unit;
    index = part.lastIndex;
  }
  return finite(total);
}

function finite(ms: number): number | null {
  return Number.isFinite(ms) && ms >= 0 && ms <= MAX_DURATION_MS ? Math.round(ms) : null;
}

const MIB = 1024 * 1024;
const memoryUnits: Record<string, number> = {
  '': MIB,
  k: 1e3, kb: 1e3, ki: 1024, kib: 1024,
  m: 1e6, mb: 1e6, mi: MIB, mib: MIB,
  g: 1e9, gb: 1e9, gi: 1024 * MIB, gib: 1024 * MIB,
  t: 1e12, tb: 1e12, ti: 1024 * 1024 * MIB, tib: 1024 * 1024 * MIB,
};

/** More memory than one agent could have; keeps values exact. */
const MAX_MEMORY_MIB = 16 * 1024 * 1024;

/**
 * Parses a memory size into whole MiB (rounded up), or null. A plain number is MiB.
 * Suffixes follow Kubernetes: `Ki`, `Mi`, `Gi`, `Ti` are powers of 1024 and `K`, `M`,
 * `G`, `T` powers of 1000 (`1G` is 954 MiB); a trailing `B` is allowed (`512MiB`, `2GB`).
 */
export function parseMemoryMiB(value: string | number): number | null {
  let mib: number;
  if (typeof value === 'number') {
    mib = value;
  } else {
    const match = /^(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)$/.exec(value.trim().toLowerCase());
    const unit = memoryUnits[match?.[2] ?? 'none'];
    if (!match || unit === undefined) return null;
    mib = (Number(match[1]) * unit) / MIB;
  }
  if (!Number.isFinite(mib) || mib <= 0 || mib > MAX_MEMORY_MIB) return null;
  return Math.ceil(mib);
}
