// Copies the sources to dist/ with a header naming the version and commit.
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';

const { version } = JSON.parse(readFileSync('package.json', 'utf8'));
const commit = process.env.CI_COMMIT_SHORT_SHA ?? 'local';
mkdirSync('dist', { recursive: true });
for (const file of readdirSync('src')) {
  const header = `// slugline ${version} (${commit})\n`;
  writeFileSync(`dist/${file}`, header + readFileSync(`src/${file}`, 'utf8'));
  console.log(`built dist/${file}`);
}
