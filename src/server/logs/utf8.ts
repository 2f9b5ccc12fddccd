/**
 * UTF-8 boundaries in a byte range of a log, so a read never splits a character. The
 * log only holds valid UTF-8 (it is written from JavaScript strings), but offsets come
 * from users.
 */

function isContinuation(byte: number | undefined): boolean {
  return byte !== undefined && (byte & 0xc0) === 0x80;
}

/** The length of the character a lead byte starts (1 for anything that is not a lead byte). */
function sequenceLength(lead: number): number {
  if (lead >= 0xf0) return 4;
  if (lead >= 0xe0) return 3;
  if (lead >= 0xc0) return 2;
  return 1;
}

/** The first index at or after start that begins a character (skips at most 3 continuation bytes). */
function characterStart(bytes: Uint8Array, start: number): number {
  let at = start;
  while (at < bytes.length && at < start + 3 && isContinuation(bytes[at])) at += 1;
  return at;
}

/**
 * The largest index at or before end (and after start) where bytes[start, index) holds
 * whole characters; end itself when nothing is cut.
 */
function characterEnd(bytes: Uint8Array, start: number, end: number): number {
  let lead = end - 1;
  while (lead > start && lead > end - 4 && isContinuation(bytes[lead])) lead -= 1;
  const byte = bytes[lead];
  if (lead < start || byte === undefined) return end;
  return lead + sequenceLength(byte) > end ? lead : end;
}

/** The index just past the character starting at start (never past length). */
function afterCharacter(bytes: Uint8Array, start: number): number {
  const byte = bytes[start];
  return byte === undefined ? start : Math.min(bytes.length, start + sequenceLength(byte));
}

/**
 * How many bytes to read at an offset for wholeCharacters to honour limit: 3 past it to
 * finish the character the limit cuts, and at least the up to 3 bytes of a character
 * the offset cut into plus the whole (up to 4 byte) character after them.
 */
export function bytesToRead(limit: number): number {
  return Math.max(limit + 3, 7);
}

/**
 * The whole characters of bytes (read at some offset of the log, bytesToRead(limit) of
 * them unless the log ends sooner) within limit bytes:
 * start skips a character the offset cut into, end moves back to a character boundary
 * unless bytes reach the end of the log, and a limit smaller than one character still
 * takes that character, so a reader always moves forward.
 */
export function wholeCharacters(bytes: Uint8Array, limit: number, reachesEnd: boolean): { start: number; end: number } {
  const start = characterStart(bytes, 0);
  let end = Math.min(bytes.length, limit);
  if (!(reachesEnd && end === bytes.length)) end = characterEnd(bytes, start, end);
  if (end <= start) end = Math.max(start, afterCharacter(bytes, start));
  return { start, end };
}
