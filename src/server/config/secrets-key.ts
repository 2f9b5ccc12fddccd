import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SlipwayError, messageOf } from '../../errors/index.js';
import { newSecretsKey, parseSecretsKey } from '../crypto/index.js';
import type { ServerConfig } from './schema.js';

/**
 * The key that seals project secrets: config.secretsKey when set, else `<home>/secrets.key`,
 * made on first start (mode 0600). Losing that file loses every stored secret, which is why
 * docs/server.md tells to back it up or set secretsKey explicitly.
 */
export async function ensureSecretsKey(config: Pick<ServerConfig, 'home' | 'secretsKey'>): Promise<{ key: Buffer; source: 'config' | 'file' | 'created' }> {
  if (config.secretsKey !== undefined) return { key: parseSecretsKey(config.secretsKey), source: 'config' };
  const file = path.join(config.home, 'secrets.key');
  const existing = await readKeyFile(file);
  if (existing !== null) return { key: existing, source: 'file' };
  try {
    await mkdir(config.home, { recursive: true, mode: 0o700 });
    // wx: of two servers starting on one home at once, one writes and the other reads its key.
    await writeFile(file, `${newSecretsKey()}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new SlipwayError('CONFIG_INVALID', `cannot create the secrets key file ${file}: ${messageOf(error)}; make ${config.home} writable or set secretsKey`, { cause: error });
    }
    const raced = await readKeyFile(file);
    if (raced !== null) return { key: raced, source: 'file' };
  }
  const created = await readKeyFile(file);
  if (created === null) throw new SlipwayError('INTERNAL', `the secrets key file ${file} vanished right after it was written`);
  return { key: created, source: 'created' };
}

async function readKeyFile(file: string): Promise<Buffer | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new SlipwayError('CONFIG_INVALID', `cannot read the secrets key file ${file}: ${messageOf(error)}`, { cause: error });
  }
  try {
    return parseSecretsKey(text);
  } catch (error) {
    throw new SlipwayError('CONFIG_INVALID', `${file}: ${messageOf(error)}`, { cause: error });
  }
}
