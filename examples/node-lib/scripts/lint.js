// A small lint: no tabs, no trailing spaces, a final newline, no console.log in src/.
import { readFileSync, readdirSync } from 'node:fs';

let problems = 0;
for (const dir of ['src', 'test/unit', 'test/cli', 'scripts', 'bin']) {
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.js'))) {
    const path = `${dir}/${file}`;
    const text = readFileSync(path, 'utf8');
    text.split('\n').forEach((line, i) => {
      const report = (what) => {
        problems += 1;
        console.log(`${path}:${i + 1}: ${what}`);
      };
      if (line.includes('\t')) report('tab character');
      if (/\s+$/.test(line)) report('trailing white space');
      if (dir === 'src' && line.includes('console.log')) report('console.log in library code');
    });
    if (!text.endsWith('\n')) { problems += 1; console.log(`${path}: no final newline`); }
  }
}
console.log(problems === 0 ? 'lint: clean' : `lint: ${problems} problem(s)`);
process.exit(problems === 0 ? 0 : 1);
