import { defineConfig } from 'vite';

// JSX goes to preact's automatic runtime through Vite's own transform: no plugin needed.
export default defineConfig({
  base: '/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    // The server serves these files itself; nothing may come from another host (CSP 'self').
    assetsInlineLimit: 0,
    sourcemap: true,
    target: 'es2022',
  },
  server: {
    // `npx vite web` for development, against a server on 8080.
    proxy: { '/api': 'http://127.0.0.1:8080' },
  },
});
