import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

// Folders are concepts; a folder's index.ts is its public surface. This rule keeps
// one folder from reaching into another's files, and keeps the agent free of the server.
const internals = (folder) => ({
  group: [`../${folder}/*`, `!../${folder}/index.js`, `../../${folder}/*`, `!../../${folder}/index.js`],
  message: `Import ${folder} through its index.ts, not its internal files.`,
});
const folders = ['pipeline', 'executor', 'archive', 'cli', 'errors', 'store', 'scheduler', 'engines', 'agent', 'server', 'apps', 'protocol', 'process', 'git'];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'examples/**', 'web/dist/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.{js,mjs}'],
    languageOptions: { globals: globals.node },
  },
  {
    // The web UI runs in the browser (web/tsconfig.json); its tests in test/web run in node.
    files: ['web/**/*.{ts,tsx}'],
    languageOptions: { globals: globals.browser },
  },
  {
    files: ['**/*.{ts,tsx}'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-empty': ['error', { allowEmptyCatch: false }],
    },
  },
  {
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: folders.map(internals) }],
    },
  },
  {
    files: ['src/agent/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          ...folders.map(internals),
          { group: ['../server', '../server/*', '../scheduler', '../scheduler/*', '../store', '../store/*', '../engines', '../engines/*', '../cli', '../cli/*'], message: 'The agent shares only the protocol with the server.' },
        ],
      }],
    },
  },
);
