/** File-system pieces the server's stores share. */
import { open } from 'node:fs/promises';

/** Makes the names in a directory durable (a new file's data is not enough after a power loss). */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Whether an error says the file is not there. */
export function isMissing(error: unknown): boolean {
  return error instanceof Error && 'code' in error && error.code === 'ENOENT';
}
