import { createReadStream } from 'node:fs';
import { PassThrough, type Readable } from 'node:stream';
import * as tar from 'tar';
import { SlipwayError, messageOf } from '../errors/index.js';
import { FILE_TYPES, normalized } from './entries.js';

/**
 * The content of one regular file of an archive, streamed without extracting anything:
 * resolves to a Readable as soon as the entry is reached, or to null when the archive
 * has no regular file at that path (directories and symbolic links are not followed).
 * Paths compare normalized (`./a//b` is `a/b`); with several entries of one path (tar
 * allows it, packArchive never writes it) the first is read. Reading stops at the end
 * of the entry; destroying the Readable closes the file.
 *
 * Throws ARCHIVE_INVALID when the file cannot be read as a tar.gz before the entry is
 * reached; a failure after that destroys the Readable with the error.
 */
export function readArchiveEntry(file: string, path: string): Promise<Readable | null> {
  const wanted = normalized(path);
  if (wanted === '') return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const source = createReadStream(file);
    let found: PassThrough | null = null;
    const fail = (error: unknown) => {
      source.destroy();
      if (found === null) {
        reject(new SlipwayError('ARCHIVE_INVALID', `${file} is not a readable tar.gz archive: ${messageOf(error)}`, { cause: error }));
      } else {
        found.destroy(error instanceof Error ? error : new Error(String(error)));
      }
    };
    const parser = new tar.Parser({
      strict: true,
      onReadEntry: (entry) => {
        if (found !== null || !FILE_TYPES.has(entry.type) || normalized(entry.path) !== wanted) {
          entry.resume();
          return;
        }
        const out = new PassThrough();
        found = out;
        // The rest of the archive is of no interest once the entry is read or dropped.
        out.on('close', () => source.destroy());
        entry.on('end', () => source.destroy());
        entry.pipe(out);
        resolve(out);
      },
    });
    parser.on('error', fail);
    source.on('error', fail);
    parser.on('end', () => {
      if (found === null) resolve(null);
    });
    source.pipe(parser);
  });
}
