/**
 * Terminal output to styled text. Only SGR (colours, bold, italic, underline...) is kept;
 * every other escape sequence (cursor moves, erases, OSC titles and hyperlinks, DCS...)
 * and every other control character is dropped. The result is plain strings with a
 * class and a style object: the UI inserts them as text, never as HTML.
 */

export type Segment = { text: string; className: string; style: Record<string, string> | null };

type Colour = number | string | null; // 0-255: the xterm palette; '#rrggbb': truecolor

type State = { fg: Colour; bg: Colour; bold: boolean; dim: boolean; italic: boolean; underline: boolean; strike: boolean; inverse: boolean };

const plainState = (): State => ({ fg: null, bg: null, bold: false, dim: false, italic: false, underline: false, strike: false, inverse: false });

/**
 * Every escape sequence and control character a line may hold:
 * CSI (ESC [ … final), OSC (ESC ] … BEL or ST, also unterminated), DCS/SOS/PM/APC
 * (ESC P|X|^|_ … ST), other ESC sequences, 8-bit CSI, and C0 controls but tab and newline.
 */
// eslint-disable-next-line no-control-regex
export const ESCAPES = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[PX^_][^\x1b]*(?:\x1b\\)?|\x1b[ -/]*[0-~]?|\x9b[0-?]*[ -/]*[@-~]|[\x00-\x08\x0b-\x1f\x7f]/g;
// eslint-disable-next-line no-control-regex
const SGR = /^\x1b\[([0-9;:]*)m$/;

/** A 256-colour palette index above 15 as #rrggbb (the xterm cube and greys). */
function paletteHex(index: number): string {
  if (index >= 232) {
    const v = 8 + (index - 232) * 10;
    return hex(v, v, v);
  }
  const i = index - 16;
  const level = (n: number) => (n === 0 ? 0 : 55 + n * 40);
  return hex(level(Math.floor(i / 36)), level(Math.floor(i / 6) % 6), level(i % 6));
}

function hex(r: number, g: number, b: number): string {
  const part = (n: number) => Math.max(0, Math.min(255, n)).toString(16).padStart(2, '0');
  return `#${part(r)}${part(g)}${part(b)}`;
}

/** Reads an extended colour (38/48 ;5;n or ;2;r;g;b) at params[i]; returns it and how many params it took. */
function extendedColour(params: number[], i: number): { colour: Colour; used: number } {
  const mode = params[i + 1];
  if (mode === 5) {
    const index = params[i + 2] ?? 0;
    return { colour: index >= 0 && index <= 255 ? index : null, used: 3 };
  }
  if (mode === 2) return { colour: hex(params[i + 2] ?? 0, params[i + 3] ?? 0, params[i + 4] ?? 0), used: 5 };
  return { colour: null, used: 1 };
}

function applySgr(state: State, text: string): State {
  const params = text === '' ? [0] : text.split(/[;:]/).map((p) => (p === '' ? 0 : Number(p)));
  const next = { ...state };
  for (let i = 0; i < params.length; i += 1) {
    const p = params[i] ?? 0;
    if (p === 0) Object.assign(next, plainState());
    else if (p === 1) next.bold = true;
    else if (p === 2) next.dim = true;
    else if (p === 3) next.italic = true;
    else if (p === 4) next.underline = true;
    else if (p === 7) next.inverse = true;
    else if (p === 9) next.strike = true;
    else if (p === 22) next.bold = next.dim = false;
    else if (p === 23) next.italic = false;
    else if (p === 24) next.underline = false;
    else if (p === 27) next.inverse = false;
    else if (p === 29) next.strike = false;
    else if (p >= 30 && p <= 37) next.fg = p - 30;
    else if (p >= 90 && p <= 97) next.fg = p - 90 + 8;
    else if (p === 39) next.fg = null;
    else if (p >= 40 && p <= 47) next.bg = p - 40;
    else if (p >= 100 && p <= 107) next.bg = p - 100 + 8;
    else if (p === 49) next.bg = null;
    else if (p === 38 || p === 48) {
      const { colour, used } = extendedColour(params, i);
      if (p === 38) next.fg = colour;
      else next.bg = colour;
      i += used - 1;
    }
  }
  return next;
}

const styleCache = new Map<string, { className: string; style: Record<string, string> | null }>();

function present(state: State): { className: string; style: Record<string, string> | null } {
  const key = JSON.stringify(state);
  const cached = styleCache.get(key);
  if (cached !== undefined) return cached;
  const classes: string[] = [];
  const style: Record<string, string> = {};
  const [fg, bg] = state.inverse ? [state.bg, state.fg] : [state.fg, state.bg];
  // The 16 basic colours are classes, so the theme can keep them readable on its background.
  if (typeof fg === 'number' && fg < 16) classes.push(`f${fg}`);
  else if (typeof fg === 'number') style.color = paletteHex(fg);
  else if (typeof fg === 'string') style.color = fg;
  else if (state.inverse) classes.push('finv');
  if (typeof bg === 'number' && bg < 16) classes.push(`g${bg}`);
  else if (typeof bg === 'number') style.backgroundColor = paletteHex(bg);
  else if (typeof bg === 'string') style.backgroundColor = bg;
  else if (state.inverse) classes.push('ginv');
  if (state.bold) classes.push('b');
  if (state.dim) classes.push('d');
  if (state.italic) classes.push('i');
  if (state.underline) classes.push('u');
  if (state.strike) classes.push('s');
  const presented = { className: classes.join(' '), style: Object.keys(style).length === 0 ? null : style };
  if (styleCache.size < 4096) styleCache.set(key, presented);
  return presented;
}

/**
 * One line of terminal output as styled segments. A carriage return starts the line
 * over (what a terminal would show of a progress bar is its last state). Each line
 * starts unstyled: lines are parsed on their own, lazily, as they scroll into view.
 */
export function parseLine(line: string): Segment[] {
  let segments: Segment[] = [];
  let state = plainState();
  let last = 0;
  const add = (text: string) => {
    if (text === '') return;
    const look = present(state);
    const previous = segments[segments.length - 1];
    if (previous !== undefined && previous.className === look.className && previous.style === look.style) previous.text += text;
    else segments.push({ text, ...look });
  };
  ESCAPES.lastIndex = 0;
  for (let found = ESCAPES.exec(line); found !== null; found = ESCAPES.exec(line)) {
    add(line.slice(last, found.index));
    last = found.index + found[0].length;
    const sequence = found[0];
    if (sequence === '\r') {
      // A trailing CR (CRLF logs) changes nothing; one before more text overwrites the line.
      if (line.slice(last).replace(ESCAPES, '') !== '') segments = [];
      ESCAPES.lastIndex = last;
      continue;
    }
    const sgr = SGR.exec(sequence);
    if (sgr !== null) state = applySgr(state, sgr[1] ?? '');
  }
  add(line.slice(last));
  return segments;
}

/** The text of a line as it reads, without any escape sequence. */
export function plainText(line: string): string {
  return parseLine(line).map((s) => s.text).join('');
}
