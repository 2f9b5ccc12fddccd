import { access } from 'node:fs/promises';
import { basename } from 'node:path';
import type { ArtifactsSpec } from '../pipeline/index.js';
import { SlipwayError } from '../errors/index.js';
import { extractArchive, packArchive } from '../archive/index.js';
import { collectPaths } from './collect.js';
import { formatBytes, plural } from './format.js';
import type { JobOutput } from './output.js';
import type { JobResult } from './types.js';
import { expandText } from './variables.js';

/**
 * Artifacts: files a job leaves for later jobs and for people. They are extracted into
 * the project directory before the scripts, and collected from it after them.
 */

/** Extracts the archives of earlier jobs into the project directory, in order. */
export async function downloadArtifacts(
  archives: ReadonlyArray<{ job: string; archive: string }>,
  projectDir: string,
  output: JobOutput,
): Promise<void> {
  for (const { job, archive } of archives) {
    try {
      await access(archive);
    } catch (error) {
      throw new SlipwayError('ARCHIVE_INVALID', `the artifacts of job "${job}" are missing: ${archive} does not exist`, {
        cause: error,
      });
    }
    const { files } = await extractArchive(archive, projectDir);
    output.system(`Extracted the artifacts of "${job}" (${plural(files, 'file')})`);
  }
}

/**
 * Collects the files matching spec into a tar.gz at out. Returns null, with a warning,
 * when nothing matches: that is not a failure of the job.
 */
export async function uploadArtifacts(
  spec: ArtifactsSpec,
  projectDir: string,
  out: string,
  variables: Record<string, string>,
  output: JobOutput,
): Promise<JobResult['artifacts']> {
  const lookup = (name: string): string | undefined => variables[name];
  const paths = spec.paths.map((path) => expandText(path, lookup));
  const exclude = spec.exclude.map((path) => expandText(path, lookup));
  const collected = await collectPaths(projectDir, paths, exclude);
  for (const warning of collected.warnings) output.warning(warning);
  if (collected.files === 0) {
    output.warning(`no files to upload as artifacts: nothing matches ${paths.join(', ') || '(no paths)'}`);
    return null;
  }
  const { sizeBytes } = await packArchive(projectDir, collected.entries, out);
  output.system(`Collected ${plural(collected.files, 'file')} into ${basename(out)} (${formatBytes(sizeBytes)})`);
  return { archive: out, files: collected.files, sizeBytes };
}
