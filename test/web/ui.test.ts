import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { waitFor } from '../support/wait.js';
import { browserMissing, copyScreenshotsToDocs, openWorld, type World } from './world.js';

type Build = { id: number; status: string; jobs: Array<{ id: number; name: string; status: string }> };

// Generous: two cores shared with other suites; a browser step waits on a condition, never a clock.
const STEP_MS = 60_000;
const missing = browserMissing();
// CI must run the browser suite: a missing chromium there fails instead of skipping.
const skip = missing !== null && !process.env.CI ? missing : false;

const pipeline = (jobs: string) => `stages: [build, test, deploy]\n${jobs}`;

/** What the log of the first job prints: numbered lines, colours, and HTML that must stay text. */
const SHOWCASE = pipeline(`build:
  stage: build
  script:
    - 'for i in $(seq 1 400); do echo "build line $i"; done'
    - printf 'needle-%s found\\n' 7f3a
    - printf '\\033[31mred text\\033[0m \\033[1;38;5;45mbold 256\\033[0m \\033]8;;http://127.0.0.1/x\\033\\\\a link\\033]8;;\\033\\\\ \\033[2Kafter erase\\n'
    - printf '<img src=x %s="window.__pwned=1"><script>window.__pwned=2</script>\\n' onerror
test:
  stage: test
  needs: [build]
  script:
    - mkdir -p out && echo 'the report of the test job' > out/report.txt
  artifacts:
    paths: [out/]
lint:
  stage: test
  script:
    - echo linted
deploy:
  stage: deploy
  when: manual
  script:
    - echo deployed
`);

function waitForBuild(world: World, id: number, done: (b: Build) => boolean, what: string, deadlineMs = 120_000): Promise<Build> {
  return waitFor(what, async () => {
    const build = await world.api<Build>('GET', `/api/v1/builds/${id}`);
    return done(build) ? build : undefined;
  }, deadlineMs);
}

/** A link of the main navigation (breadcrumbs have some of the same names). */
const nav = (page: Page, name: string) => page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true });

/** Fails when the page is wider than its window (a narrow phone must not scroll sideways). */
async function assertNoHorizontalOverflow(page: Page, what: string): Promise<void> {
  const sizes = await page.evaluate<{ scroll: number; client: number }>('({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth })');
  assert.ok(sizes.scroll <= sizes.client, `${what} overflows sideways at ${sizes.client}px: ${sizes.scroll}px wide`);
}

describe('The web UI in a real browser', { skip, timeout: 6 * 60_000 }, () => {
  let world: World;
  let project = '';
  let buildId = 0;
  const shots: string[] = [];
  const shot = async (name: string) => {
    await world.screenshot(name);
    shots.push(name);
  };

  before(async () => {
    if (missing !== null) throw new Error(missing); // on CI: fail, don't skip
    world = await openWorld();
    world.page.setDefaultTimeout(STEP_MS);
    project = await world.project({ '.slipway.yml': SHOWCASE });
  });

  after(async () => {
    if (process.env.SLIPWAY_UI_DOC_IMAGES === '1') await copyScreenshotsToDocs(shots);
    await world?.close();
  });

  it('signs in with the admin token and shows the dashboard', async () => {
    const { page } = world;
    await page.goto(`${world.url}/`);
    await page.getByRole('heading', { name: 'Sign in to Slipway' }).waitFor();
    await shot('signin');
    await page.getByLabel('API token').fill(world.adminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await page.locator('.live.on').waitFor();
    await page.locator('[data-testid=queue-length]').filter({ hasText: /^\d+$/ }).waitFor();
  });

  it('starts a build from the project page and shows it turn green without a reload', async () => {
    const { page } = world;
    await nav(page, 'Projects').click();
    await page.getByRole('link', { name: project }).click();
    await page.getByRole('heading', { name: project }).waitFor();
    await page.getByLabel('Variables (NAME=value, one per line)').fill('GREETING=hello');
    await shot('project');
    // A value set on the window survives only if nothing reloads the page.
    await page.evaluate('window.__noReload = true');
    await page.getByRole('button', { name: 'Start build' }).click();
    await page.waitForURL(/\/builds\/\d+$/);
    buildId = Number(/\/builds\/(\d+)$/.exec(page.url())?.[1]);
    await page.locator('main[data-build-status=success]').waitFor({ timeout: 120_000 });
    assert.equal(await page.evaluate('window.__noReload'), true, 'the page reloaded');
    for (const job of ['build', 'test', 'lint']) assert.equal(await page.locator(`.node[data-job=${job}]`).getAttribute('data-status'), 'success');
    assert.equal(await page.locator('.node[data-job=deploy]').getAttribute('data-status'), 'manual');
    await page.getByText('GREETING=hello').waitFor();
    await shot('build');
  });

  it('runs a manual job from the build page', async () => {
    const { page } = world;
    await page.locator('.job-row[data-job=deploy]').getByRole('button', { name: 'Run' }).click();
    await page.locator('.node[data-job=deploy][data-status=success]').waitFor({ timeout: 120_000 });
  });

  it('opens a job log and finds a line by search', async () => {
    const { page } = world;
    await page.locator('.node[data-job=build]').click();
    await page.locator('.log-scroller').waitFor();
    await page.getByLabel('Search the log').fill('needle-7f3a');
    await page.getByRole('status').filter({ hasText: /^– of 1 lines/ }).waitFor();
    await page.getByLabel('Search the log').press('Enter');
    const row = page.locator('.log-row.current');
    await row.waitFor();
    assert.match(await row.innerText(), /needle-7f3a found/);
    assert.equal(await row.locator('mark').innerText(), 'needle-7f3a');
    // Its line number is a link that selects the line.
    const number = await row.getAttribute('data-line');
    await row.locator('a.ln').click();
    await page.waitForURL(new RegExp(`#L${number}$`));
    await page.locator(`.log-row.selected[data-line="${number}"]`).waitFor();
    await shot('log');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download raw' }).click()]);
    assert.match(await readFile(await download.path(), 'utf8'), /^needle-7f3a found$/m);
  });

  it('renders colours and shows escape sequences and HTML of a log as text, never as markup', async () => {
    const { page } = world;
    await page.getByLabel('Search the log').fill('x onerror=');
    await page.getByRole('status').filter({ hasText: /^– of 1 lines/ }).waitFor();
    await page.getByLabel('Search the log').press('Enter');
    const html = page.locator('.log-row.current').filter({ hasText: 'onerror' });
    await html.waitFor();
    assert.equal((await html.locator('.lt').innerText()).trim(), '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>');
    assert.equal(await page.locator('.log img, .log script').count(), 0);
    assert.equal(await page.evaluate('window.__pwned'), undefined);
    await page.getByLabel('Search the log').fill('red text bold');
    await page.getByRole('status').filter({ hasText: /^– of 1 lines/ }).waitFor();
    await page.getByLabel('Search the log').press('Enter');
    const colours = page.locator('.log-row.current .lt').filter({ hasText: 'red text' });
    await colours.waitFor();
    assert.equal((await colours.innerText()).trim(), 'red text bold 256 a link after erase');
    assert.equal(await colours.locator('span.f1').first().innerText(), 'red text');
    assert.equal(await colours.locator('span.b').first().getAttribute('style'), 'color: rgb(0, 215, 255);');
    assert.equal(await colours.locator('a').count(), 0, 'an OSC 8 hyperlink is not a link');
  });

  it('folds a section and a step of the log and unfolds them again', async () => {
    const { page } = world;
    const prepared = page.locator('.log-row').filter({ hasText: 'Running job "build"' });
    const numbered = page.locator('.log-row').filter({ hasText: /^\d+build line 1$/ });
    await page.getByRole('button', { name: 'Unfold all' }).click();
    await page.locator('.log-scroller').evaluate((el) => el.scrollTo(0, 0));
    await prepared.waitFor();
    await page.getByRole('button', { name: 'Fold section prepare' }).click();
    await prepared.waitFor({ state: 'detached' });
    await page.getByRole('button', { name: /^Fold step \$ for i in/ }).click();
    await numbered.waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Unfold section prepare' }).press('Enter');
    await prepared.waitFor();
    await page.getByRole('button', { name: 'Unfold all' }).click();
    await numbered.waitFor();
  });

  it("lists a job's artifacts and downloads one", async () => {
    const { page } = world;
    await page.goto(`${world.url}/builds/${buildId}`);
    await page.locator('.node[data-job=test]').click();
    await page.getByRole('heading', { name: 'Artifacts' }).waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'out/report.txt' }).click()]);
    assert.equal(download.suggestedFilename(), 'report.txt');
    assert.equal(await readFile(await download.path(), 'utf8'), 'the report of the test job\n');
  });

  it('follows the log of a running job as it grows, without a reload, keeping its place among the matches of a search', async () => {
    const { page } = world;
    const gate = path.join(world.dir, 'release-follow');
    const waiter = await world.project({ '.slipway.yml': `wait:\n  script:\n    - echo before-the-gate\n    - 'while [ ! -e ${gate} ]; do sleep 0.05; done'\n    - echo after-the-gate-3c9d\n` });
    const started = await world.api<Build>('POST', `/api/v1/projects/${waiter}/builds`, {});
    const job = started.jobs[0];
    assert.ok(job !== undefined);
    await page.goto(`${world.url}/jobs/${job.id}`);
    await page.locator('.log-row').filter({ hasText: 'before-the-gate' }).last().waitFor({ timeout: 120_000 });
    assert.equal(await page.getByLabel('Follow', { exact: true }).isChecked(), true);
    await page.evaluate('window.__noReload = true');
    // Stepping through matches keeps its place while the log grows more of them.
    const matches = page.locator('.log-count');
    await page.getByLabel('Search the log').fill('the-gate');
    await matches.filter({ hasText: /^– of \d+ lines/ }).waitFor();
    const before = Number(/of (\d+) lines/.exec(await matches.innerText())?.[1]);
    await page.getByLabel('Search the log').press('Enter');
    await matches.filter({ hasText: /^1 of / }).waitFor();
    await writeFile(gate, ''); // the job ends now (a failure before this is canceled at close)
    await page.locator('.log-row').filter({ hasText: /^\d+after-the-gate-3c9d$/ }).waitFor();
    await page.locator('main[data-job-status=success]').waitFor();
    await waitFor('the search to count the new matches, still at the first', async () => {
      const found = /^1 of (\d+) lines/.exec(await matches.innerText());
      return found !== null && Number(found[1]) > before;
    }, STEP_MS);
    assert.equal(await page.evaluate('window.__noReload'), true, 'the page reloaded');
  });

  it("shows an invalid pipeline's errors with their line and column", async () => {
    const { page } = world;
    const broken = await world.project({ '.slipway.yml': 'stages: [build]\nbuild:\n  stage: nowhere\n  script: [echo]\n' });
    const started = await world.api<Build>('POST', `/api/v1/projects/${broken}/builds`, {});
    await page.goto(`${world.url}/builds/${started.id}`);
    await page.locator('main[data-build-status=error]').waitFor();
    const errors = page.getByRole('heading', { name: 'Pipeline errors' });
    await errors.waitFor();
    assert.match(await page.locator('.pipeline-errors').innerText(), /\.slipway\.yml:\d+:\d+ .*nowhere/);
  });

  it('cancels a running build from its page, its agent shown busy with it meanwhile', async () => {
    const { page } = world;
    const sleeper = await world.project({ '.slipway.yml': 'sleep:\n  script:\n    - echo sleeping\n    - sleep 600\n' });
    const started = await world.api<Build>('POST', `/api/v1/projects/${sleeper}/builds`, {});
    await page.goto(`${world.url}/builds/${started.id}`);
    await page.locator('.node[data-job=sleep][data-status=running]').waitFor({ timeout: 120_000 });
    // Meanwhile the agents page shows the agent busy with it.
    await nav(page, 'Agents').click();
    await page.getByRole('heading', { name: 'local · default' }).waitFor();
    const busy = page.locator('table.agents tr[data-state=busy]').filter({ hasText: 'sleep' });
    await busy.waitFor();
    assert.match(await busy.innerText(), new RegExp(`${sleeper}`));
    await shot('agents');
    await page.goBack();
    await page.getByRole('button', { name: 'Cancel build' }).click();
    await page.locator('main[data-build-status=canceled]').waitFor({ timeout: 120_000 });
    await page.locator('.node[data-job=sleep][data-status=canceled]').waitFor();
  });

  it('opens a log of a million lines and scrolls to its last line', async () => {
    const { page } = world;
    // A real job prints the lines; the log reaches the server as any other job's does.
    const big = await world.project({ '.slipway.yml': "numbers:\n  script:\n    - seq -f 'numbered line %.0f' 1 1000000\n" });
    const started = await world.api<Build>('POST', `/api/v1/projects/${big}/builds`, {});
    const done = await waitForBuild(world, started.id, (b) => ['success', 'failed', 'canceled', 'error'].includes(b.status), 'the million-line build', 180_000);
    assert.equal(done.status, 'success');
    const job = done.jobs[0];
    assert.ok(job !== undefined);
    await page.goto(`${world.url}/builds/${done.id}`);
    await page.locator('.node[data-job=numbers]').waitFor();
    const opened = Date.now();
    // The page's own clock: from the click to the effect that shows the rows.
    await page.evaluate('delete document.documentElement.dataset.logShownAt; delete document.documentElement.dataset.logOpenMs; window.__clickedAt = performance.now()');
    await page.locator('.node[data-job=numbers]').click();
    await page.getByLabel(/^Log, \d{7,} lines$/).waitFor({ timeout: 30_000 });
    await page.locator('.log-row[data-line="1"]').waitFor();
    const waitedMs = Date.now() - opened;
    const openMs = await page.evaluate<number>('Math.round(Number(document.documentElement.dataset.logShownAt) - window.__clickedAt)');
    const lines = Number(await page.locator('.log-scroller').getAttribute('data-lines'));
    const reported = await page.evaluate<string | undefined>('document.documentElement.dataset.logOpenMs');
    // Figures, printed for the closing note, never asserted: a timing bound would fail on a busy machine, not on slow code.
    console.log(`web-ui: a ${lines}-line log opened in ${openMs} ms from the click (its fetch and index: ${reported} ms; the test waited ${waitedMs} ms)`);
    assert.ok(lines >= 1_000_000, `the viewer shows ${lines} lines`);
    const rows = await page.locator('.log-row').count();
    assert.ok(rows < 200, `only the visible rows are in the DOM, not ${rows}`);
    // Smoothness: scroll a screen and a half per frame for 60 frames, and time the frames.
    const frameMs = await page.evaluate<number>(`new Promise((resolve) => {
      const scroller = document.querySelector('.log-scroller');
      let frames = 0;
      const started = performance.now();
      const step = () => {
        scroller.scrollTop += scroller.clientHeight * 1.5;
        if (++frames < 60) requestAnimationFrame(step);
        else resolve((performance.now() - started) / frames);
      };
      requestAnimationFrame(step);
    })`);
    console.log(`web-ui: scrolling the million-line log: ${frameMs.toFixed(1)} ms a frame (60 frames)`);
    await page.locator('.log-scroller').focus();
    await page.keyboard.press('End');
    const last = page.locator('.log-row').filter({ hasText: 'numbered line 1000000' });
    await last.waitFor();
    assert.ok(await last.isVisible());
    await shot('log-million');
  });

  it('shows recent builds, the queue and capacity on the dashboard', async () => {
    const { page } = world;
    await nav(page, 'Dashboard').click();
    await page.getByRole('heading', { name: 'Recent builds' }).waitFor();
    await page.locator(`tr[data-build="${buildId}"]`).waitFor();
    await page.locator('.chart svg').waitFor();
    await shot('dashboard');
    // The address the API gives as a build's url opens the same page.
    await page.goto(`${world.url}/projects/${project}/builds/1`);
    await page.getByRole('heading', { name: `${project} #1` }).waitFor();
    await page.emulateMedia({ colorScheme: 'dark' });
    try {
      await shot('dashboard-dark');
      await page.goto(`${world.url}/builds/${buildId}`);
      await page.locator('.node[data-job=build]').waitFor();
      await shot('build-dark');
    } finally {
      await page.emulateMedia({ colorScheme: 'light' });
    }
  });

  it('saves a secret and never shows its value again', async () => {
    const { page } = world;
    await nav(page, 'Settings').click();
    await page.getByRole('link', { name: 'Secrets', exact: true }).click();
    await page.getByLabel('Project').selectOption(project);
    await page.getByLabel('Name', { exact: true }).fill('DEPLOY_KEY');
    await page.getByLabel('Value').fill('s3cret-value-9d1e');
    await page.getByRole('button', { name: 'Save secret' }).click();
    await page.getByText('Saved DEPLOY_KEY').waitFor();
    assert.equal(await page.getByLabel('Value').inputValue(), '');
    assert.ok(!(await page.content()).includes('s3cret-value-9d1e'));
    await page.getByRole('list', { name: `Secrets of ${project}` }).getByText('DEPLOY_KEY').waitFor();
    await page.getByRole('link', { name: 'Tokens', exact: true }).click();
    await page.getByRole('heading', { name: 'API tokens' }).waitFor();
    await shot('settings');
  });

  it('reaches the main controls with the keyboard alone', async () => {
    const { page } = world;
    await page.goto(`${world.url}/projects/${project}`);
    await page.getByRole('heading', { name: project }).waitFor();
    const reached: string[] = [];
    for (let i = 0; i < 30; i += 1) {
      await page.keyboard.press('Tab');
      // What has the focus: tag, label or id, and text.
      reached.push(await page.evaluate<string>("(el => el ? `${el.tagName.toLowerCase()}:${el.getAttribute('aria-label') || el.id}:${(el.innerText || '').trim()}` : '')(document.activeElement)"));
    }
    for (const control of ['Skip to content', 'Dashboard', 'Projects', 'Agents', 'Settings', 'Sign out', ':trigger-ref:', ':trigger-vars:', 'Start build', ':filter-ref:', ':filter-status:']) {
      assert.ok(reached.some((r) => r.includes(control)), `Tab never reaches ${control}: ${reached.join(' → ')}`);
    }
    // Enter on a focused link follows it.
    await nav(page, 'Agents').focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Agents' }).waitFor();
  });

  it('fits a narrow window of 390 px without sideways scrolling', async () => {
    const { page } = world;
    await page.setViewportSize({ width: 390, height: 844 });
    try {
      for (const [route, heading] of [
        ['/', 'Dashboard'],
        [`/projects/${project}`, project],
        [`/builds/${buildId}`, `${project} #`],
        ['/agents', 'Agents'],
        ['/settings?tab=tokens', 'Settings'],
      ] as const) {
        await page.goto(`${world.url}${route}`);
        await page.getByRole('heading', { name: heading }).first().waitFor();
        await assertNoHorizontalOverflow(page, route);
      }
      await page.goto(`${world.url}/builds/${buildId}`);
      await page.locator('.node[data-job=build]').click();
      await page.locator('.log-row[data-line="1"]').waitFor();
      await assertNoHorizontalOverflow(page, 'the log');
      await shot('narrow-log');
    } finally {
      await page.setViewportSize({ width: 1280, height: 860 });
    }
  });

  it('asks nothing of any host but its own server, and the page never failed or broke its CSP', () => {
    const origin = new URL(world.url).origin;
    const elsewhere = world.requests.filter((url) => !url.startsWith(`${origin}/`) && !url.startsWith('blob:') && !url.startsWith('data:'));
    assert.ok(world.requests.length > 0);
    assert.deepEqual(elsewhere, []);
    assert.deepEqual(world.pageErrors, []);
  });
});
