const COMBINING_MARKS = /[\u0300-\u036f]/g;
const REPLACEMENTS = { '&': ' and ', '@': ' at ', ß: 'ss', æ: 'ae', ø: 'o', œ: 'oe' };

/** Turns a title into a URL slug: lower case, ASCII letters and digits, words joined by `separator`. */
export function slugify(title, { separator = '-', maxLength = 80 } = {}) {
  if (typeof title !== 'string') throw new TypeError('slugify expects a string');
  const ascii = title
    .replace(/[&@ßæøœ]/g, (c) => REPLACEMENTS[c])
    .normalize('NFKD')
    .replace(COMBINING_MARKS, '')
    .toLowerCase();
  const words = ascii.split(/[^a-z0-9]+/).filter(Boolean);
  let slug = '';
  for (const word of words) {
    const next = slug === '' ? word : `${slug}${separator}${word}`;
    if (next.length > maxLength) break;
    slug = next;
  }
  return slug;
}

/** Turns a slug back into words: `hello-world` → `Hello world`. */
export function unslugify(slug, { separator = '-' } = {}) {
  const text = slug.split(separator).filter(Boolean).join(' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}
