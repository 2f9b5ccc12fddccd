import { execFile } from 'node:child_process';
import { SlipwayError } from '../../errors/index.js';

/** Runs git and returns its stdout; a non-zero exit becomes GIT_FAILED with git's own words. */
export function git(cwd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('git', args, { cwd, maxBuffer: 256 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error === null) {
        resolve(stdout);
        return;
      }
      const detail = stderr.trim() || error.message;
      reject(new SlipwayError('GIT_FAILED', `git ${args[0] ?? ''} failed in ${cwd}: ${detail}`, { cause: error }));
    });
  });
}

/** Like git(), but a failure is an expected outcome: null. */
export async function gitOrNull(cwd: string, args: string[]): Promise<string | null> {
  try {
    return await git(cwd, args);
  } catch (error) {
    if (error instanceof SlipwayError && error.code === 'GIT_FAILED') return null;
    throw error;
  }
}
