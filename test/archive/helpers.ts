import { gzipSync } from 'node:zlib';
import { Header } from 'tar';

export type RawEntry = {
  path: string;
  type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'CharacterDevice' | 'FIFO';
  linkpath?: string;
  body?: string | Buffer;
  mode?: number;
};

/** A tar.gz written block by block, so it can hold what no honest tool would write. */
export function rawTarGz(entries: readonly RawEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const body = typeof entry.body === 'string' || entry.body === undefined ? Buffer.from(entry.body ?? '') : entry.body;
    const isFile = entry.type === undefined || entry.type === 'File';
    const header = new Header({
      path: entry.path,
      type: entry.type ?? 'File',
      linkpath: entry.linkpath ?? '',
      size: isFile ? body.length : 0,
      mode: entry.mode ?? 0o644,
      uid: 0,
      gid: 0,
      mtime: new Date(0),
    });
    const block = Buffer.alloc(512);
    header.encode(block, 0);
    blocks.push(block);
    if (isFile) blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}
