import { existsSync, mkdtempSync } from 'node:fs';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { createLocalEngine, DEFAULT_TEMPLATE } from '../../src/engines/index.js';
import { apiClient, projectMaker } from '../support/api.js';
import { tempDir } from '../support/git-repo.js';
import { waitFor } from '../support/wait.js';
import { spawnSlipway, waitForOutput, type SlipwayProcess } from '../e2e/processes.js';

export const CHROMIUM = '/usr/bin/chromium';
const root = path.resolve(import.meta.dirname, '..', '..', '..');
export const screenshotDir = path.join(root, 'test-output', 'ui');

/** Why the browser suite can't run here (null: it can). On CI a missing browser is a failure, not a skip. */
export function browserMissing(): string | null {
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} is not installed (apt-get install chromium)`;
  if (!existsSync(path.join(root, 'dist', 'web', 'index.html'))) return 'the web UI is not built (npm run build)';
  return null;
}

/**
 * A real `slipway server` on SQLite with its embedded local engine (agents are real
 * processes it launches), a fresh Chromium, and the projects the tests make. close()
 * stops the browser, the server, then the agents the engine left (they outlive a server
 * on purpose), and removes the directory.
 */
export type World = {
  /** The test's temp directory (removed by close). */
  dir: string;
  url: string;
  adminToken: string;
  context: BrowserContext;
  page: Page;
  /** Every URL the browser requested so far. */
  requests: string[];
  /** Uncaught errors of the page, and what its Content Security Policy refused. */
  pageErrors: string[];
  api<T>(method: string, route: string, body?: unknown): Promise<T>;
  project(files: Record<string, string>): Promise<string>;
  screenshot(name: string): Promise<void>;
  close(): Promise<void>;
};

export async function openWorld(): Promise<World> {
  const { dir, remove } = await tempDir('web-ui');
  const home = path.join(dir, 'home');
  const configFile = path.join(dir, 'slipway.yml');
  // Three agents at most: the suite runs a build, a long sleep and a million-line job.
  await writeFile(configFile, 'logLevel: warn\nengines:\n  - kind: local\n    name: local\n    stopGraceMs: 2000\n    templates:\n      - { name: default, maxAgents: 3, idleMinutes: 5 }\n');
  let server: SlipwayProcess | null = null;
  let context: BrowserContext | null = null;
  let cancelUnfinished: () => Promise<void> = async () => undefined;
  const close = async () => {
    const errors: unknown[] = [];
    // Builds a failed test left running are canceled through their agents first: stopping
    // an agent does not end its job's processes (a `sleep 600` would outlive the test).
    for (const step of [() => context?.close(), () => cancelUnfinished(), () => server?.stop(), () => stopAgents(home), remove]) {
      try {
        await step();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'the web UI test world did not clean up');
  };
  try {
    server = spawnSlipway(['server', '--config', configFile, '--home', home, '--listen', '127.0.0.1:0'], { cwd: dir });
    const [, url = ''] = await waitForOutput(server, /Slipway server listening on (\S+)\n/, 'the server to listen');
    const [, adminToken = ''] = await waitForOutput(server, /Admin token \(shown once\): (\S+)\n/, 'the admin token', 1000);
    const userDataDir = mkdtempSync(path.join(dir, 'chromium-'));
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 860 },
      colorScheme: 'light',
      args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync'],
    });
    const requests: string[] = [];
    context.on('request', (request) => void requests.push(request.url()));
    const page = context.pages()[0] ?? (await context.newPage());
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => void pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) pageErrors.push(message.text());
    });
    const api = apiClient(url, adminToken);
    cancelUnfinished = async () => {
      const unfinished = async () =>
        (await Promise.all(['created', 'pending', 'running'].map((status) => api<{ items: Array<{ id: number }> }>('GET', `/api/v1/builds?status=${status}&limit=500`)))).flatMap((p) => p.items);
      for (const build of await unfinished()) await api('POST', `/api/v1/builds/${build.id}/cancel`);
      await waitFor('the unfinished builds to end', async () => (await unfinished()).length === 0, 30_000);
    };
    const makeProject = projectMaker(api, dir, 'ui');
    await mkdir(screenshotDir, { recursive: true });
    return {
      dir,
      url,
      adminToken,
      context,
      page,
      requests,
      pageErrors,
      api,
      async project(files) {
        return (await makeProject(files)).name;
      },
      async screenshot(name) {
        await page.screenshot({ path: path.join(screenshotDir, `${name}.png`), fullPage: false });
      },
      close,
    };
  } catch (error) {
    await close().catch((cleanup: unknown) => console.error('web-ui: cleanup after a failed start failed', cleanup));
    throw error;
  }
}

/** Stops what the local engine of this server home launched (like scripts/quickstart.mjs). */
async function stopAgents(home: string): Promise<void> {
  let serverId: string;
  try {
    serverId = (await readFile(path.join(home, 'server-id'), 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  const engine = createLocalEngine({ serverId, stateDir: path.join(home, 'engines', 'local'), agentCommand: [process.execPath], templates: [DEFAULT_TEMPLATE], stopGraceMs: 2000, baseEnv: process.env });
  try {
    await Promise.all((await engine.list()).map((task) => engine.stop(task.id)));
  } finally {
    await engine.close();
  }
}

/** Copies this run's screenshots over docs/images/ui-*.png (run by hand when the UI changes: see docs/ui.md). */
export async function copyScreenshotsToDocs(names: string[]): Promise<void> {
  await mkdir(path.join(root, 'docs', 'images'), { recursive: true });
  for (const name of names) await cp(path.join(screenshotDir, `${name}.png`), path.join(root, 'docs', 'images', `ui-${name}.png`));
}
