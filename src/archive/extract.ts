import * as tar from 'tar';
import { SlipwayError, messageOf } from '../errors/index.js';
import { ALLOWED_TYPES } from './entries.js';
import { inspectArchive } from './inspect.js';

/**
 * Extracts a checked archive into root (which must exist). Nothing is written when a
 * check fails; a failure while writing leaves what was extracted so far.
 */
export async function extractArchive(file: string, root: string): Promise<{ entries: number; files: number }> {
  const counts = await inspectArchive(file);
  try {
    await tar.x({
      file,
      cwd: root,
      strict: true,
      preserveOwner: false,
      // Belt and braces: the checks above already refused every other type.
      filter: (_path, entry) => 'type' in entry && ALLOWED_TYPES.has(entry.type),
    });
  } catch (error) {
    throw new SlipwayError('ARCHIVE_INVALID', `could not extract ${file}: ${messageOf(error)}`, { cause: error });
  }
  return counts;
}
