#!/usr/bin/env node
import { slugify, unslugify } from '../dist/index.js';

const [mode, ...words] = process.argv.slice(2);
if (mode !== 'slug' && mode !== 'words') {
  process.stderr.write('usage: slugline slug TITLE... | slugline words SLUG\n');
  process.exit(2);
}
process.stdout.write(`${mode === 'slug' ? slugify(words.join(' ')) : unslugify(words.join(' '))}\n`);
