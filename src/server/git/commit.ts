import type { CommitInfo } from './mirrors.js';

/**
 * What `git log -1 --format=%P%x00%an%x00%ae%x00%aI%x00%B` says of a commit, read from
 * the raw commit object: the first parent, the author (name, email, date in strict ISO
 * 8601 with the author's offset) and the message. Null when the object is not one this
 * can read as git log would: no author line, or a message in an encoding other than
 * UTF-8 (git log re-encodes those).
 */
export function parseCommit(raw: Buffer): CommitInfo | null {
  const text = raw.toString('utf8');
  const headerEnd = text.indexOf('\n\n');
  const header = headerEnd < 0 ? text : text.slice(0, headerEnd);
  const message = headerEnd < 0 ? '' : text.slice(headerEnd + 2);
  let parentSha: string | null = null;
  let author: RegExpExecArray | null = null;
  for (const line of header.split('\n')) {
    // Continuation lines (a signature, a merged tag) start with a space.
    if (line.startsWith(' ')) continue;
    if (line.startsWith('parent ') && parentSha === null) parentSha = line.slice('parent '.length).trim();
    else if (line.startsWith('author ')) author = /^author (.*) <([^>]*)> (\d+) ([+-])(\d\d)(\d\d)$/.exec(line);
    else if (line.startsWith('encoding ') && !/^encoding utf-?8$/i.test(line.trim())) return null;
  }
  if (author === null) return null;
  const [, name = '', email = '', seconds = '0', sign = '+', hours = '00', minutes = '00'] = author;
  const offsetMinutes = (sign === '-' ? -1 : 1) * (Number(hours) * 60 + Number(minutes));
  const local = new Date((Number(seconds) + offsetMinutes * 60) * 1000).toISOString().slice(0, 19);
  return { parentSha, authorName: name, authorEmail: email, timestamp: `${local}${sign}${hours}:${minutes}`, message: message.trim() };
}
