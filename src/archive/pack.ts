import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as tar from 'tar';
import { SlipwayError, messageOf } from '../errors/index.js';

/**
 * node-tar stores a file with several names as a hard link to the first; hard links
 * are what extraction refuses, so packing never remembers a file it has seen.
 */
class NoHardLinks extends Map<`${number}:${number}`, string> {
  override get(): undefined {
    return undefined;
  }
  override set(): this {
    return this;
  }
}

/**
 * Packs entries (paths relative to root: files, symbolic links, directories, each
 * listed explicitly; directories are not descended into) into a tar.gz at file.
 * File modes are kept; owners and times other than mtime are not (portable).
 */
export async function packArchive(root: string, entries: readonly string[], file: string): Promise<{ sizeBytes: number }> {
  // node-tar reads a name starting with '@' as "add the entries of that archive".
  const names = entries.map((entry) => (entry.startsWith('@') ? `./${entry}` : entry));
  try {
    await mkdir(dirname(file), { recursive: true });
    await tar.c({ gzip: true, portable: true, cwd: root, file, noDirRecurse: true, linkCache: new NoHardLinks() }, names);
    return { sizeBytes: (await stat(file)).size };
  } catch (error) {
    throw new SlipwayError('ARCHIVE_INVALID', `could not write the archive ${file}: ${messageOf(error)}`, { cause: error });
  }
}
