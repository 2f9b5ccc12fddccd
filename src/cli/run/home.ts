import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * SLIPWAY_HOME holds what `slipway run` keeps between runs: git mirrors, caches and one
 * directory per run. It ignores itself in git, so that a home inside a repository never
 * shows up in `git status` nor in a `--dirty` overlay.
 */
export async function ensureHome(home: string): Promise<void> {
  await mkdir(home, { recursive: true });
  await writeFile(path.join(home, '.gitignore'), '*\n');
}

/** Creates runs/<n> with the next free number; mkdir without recursive is the lock. */
export async function allocateRunDir(home: string): Promise<{ runId: number; runDir: string }> {
  const runs = path.join(home, 'runs');
  await mkdir(runs, { recursive: true });
  const taken = (await readdir(runs)).map(Number).filter(Number.isInteger);
  for (let runId = Math.max(0, ...taken) + 1; ; runId++) {
    const runDir = path.join(runs, String(runId));
    try {
      await mkdir(runDir);
      return { runId, runDir };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}
