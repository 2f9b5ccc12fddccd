import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { SlipwayError, messageOf } from '../../errors/index.js';
import { parseStoreUrl } from '../../store/index.js';
import { parseSecretsKey } from '../crypto/index.js';
import { describeIssues } from './issues.js';
import { configSchema, type ServerConfig } from './schema.js';

/** What the `slipway server` flags may set; they win over the environment and the file. */
export type ConfigFlags = { home?: string; listen?: string; database?: string };

export type LoadConfigInput = {
  flags?: ConfigFlags;
  /** The process environment; only SLIPWAY_* variables are read (see envVariables). */
  env?: Readonly<Record<string, string | undefined>>;
  /** The YAML configuration file's text, when there is one. */
  fileText?: string | null;
  /** Where fileText came from, for messages. */
  filePath?: string;
  /** Relative paths resolve against this; process.cwd() when left out. */
  cwd?: string;
};

type Json = Record<string, unknown>;
type EnvParser = (value: string) => unknown;

const text: EnvParser = (value) => value;
const wholeNumber: EnvParser = (value) => {
  if (!/^\d+$/.test(value.trim())) throw new Error('give a whole number');
  return Number(value);
};
const flag: EnvParser = (value) => {
  const word = value.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(word)) return true;
  if (['false', '0', 'no', 'off'].includes(word)) return false;
  throw new Error('give true or false');
};

/** Environment variables and the option each sets (docs/server.md lists them). */
export const envVariables: Record<string, { path: string[]; parse: EnvParser }> = {
  SLIPWAY_HOME: { path: ['home'], parse: text },
  SLIPWAY_LISTEN: { path: ['listen'], parse: parseListen },
  SLIPWAY_PUBLIC_URL: { path: ['publicUrl'], parse: text },
  SLIPWAY_DATABASE: { path: ['database', 'url'], parse: text },
  SLIPWAY_SECRETS_KEY: { path: ['secretsKey'], parse: text },
  SLIPWAY_LOG_LEVEL: { path: ['logLevel'], parse: text },
  SLIPWAY_METRICS_ENABLED: { path: ['metrics', 'enabled'], parse: flag },
  SLIPWAY_METRICS_REQUIRE_TOKEN: { path: ['metrics', 'requireToken'], parse: flag },
  SLIPWAY_UI_ENABLED: { path: ['ui', 'enabled'], parse: flag },
  SLIPWAY_UI_DIR: { path: ['ui', 'dir'], parse: text },
  SLIPWAY_WEBHOOKS_MAX_BODY_BYTES: { path: ['webhooks', 'maxBodyBytes'], parse: wholeNumber },
};

/** `HOST:PORT`, `[IPv6]:PORT`, or `PORT` alone (keeps the host). */
export function parseListen(value: string): { host?: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value.trim()) ?? /^()()(\d{1,5})$/.exec(value.trim());
  const port = Number(match?.[3]);
  if (match === null || port > 65535) throw new Error(`write it as HOST:PORT, such as 127.0.0.1:8080 or 0.0.0.0:80 (got "${value}")`);
  const host = match[1] ?? match[2] ?? '';
  return host === '' ? { port } : { host, port };
}

/**
 * The server's configuration from its three sources, later ones winning: the YAML file,
 * SLIPWAY_* environment variables, then command-line flags. Pure: the caller reads the
 * file (readConfigFile) and passes the environment. Throws CONFIG_INVALID listing every
 * problem as `where: what to change`.
 */
export function loadConfig(input: LoadConfigInput): ServerConfig {
  const cwd = input.cwd ?? process.cwd();
  const problems: string[] = [];
  const fileName = input.filePath ?? 'slipway.yml';

  let merged: Json = {};
  if (input.fileText !== undefined && input.fileText !== null) {
    const document = parseDocument(input.fileText, { prettyErrors: true });
    for (const error of document.errors) {
      const at = error.linePos?.[0];
      problems.push(`${fileName}${at === undefined ? '' : `:${at.line}:${at.col}`}: ${(error.message.split('\n')[0] ?? 'invalid YAML').replace(/ at line \d+, column \d+:?$/, '')}`);
    }
    if (document.errors.length === 0) {
      const value: unknown = document.toJS();
      if (value !== null && value !== undefined && !isObject(value)) {
        problems.push(`${fileName}: the file must be a mapping of options (home:, listen:, database:...), not a ${Array.isArray(value) ? 'list' : typeof value}`);
      } else if (isObject(value)) merged = value;
    }
  }

  for (const [name, { path: at, parse }] of Object.entries(envVariables)) {
    const value = input.env?.[name];
    if (value === undefined || value === '') continue;
    try {
      merged = setIn(merged, at, parse(value));
    } catch (error) {
      problems.push(`${name}: ${messageOf(error)}`);
    }
  }

  const flags = input.flags ?? {};
  if (flags.home !== undefined) merged = setIn(merged, ['home'], flags.home);
  if (flags.database !== undefined) merged = setIn(merged, ['database', 'url'], flags.database);
  if (flags.listen !== undefined) {
    try {
      merged = setIn(merged, ['listen'], parseListen(flags.listen));
    } catch (error) {
      problems.push(`--listen: ${messageOf(error)}`);
    }
  }

  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) problems.push(...describeIssues(parsed.error.issues));
  if (!parsed.success || problems.length > 0) throw invalid(problems, input);

  const raw = parsed.data;
  const home = path.resolve(cwd, raw.home);
  const hostInUrl = raw.listen.host.includes(':') ? `[${raw.listen.host}]` : raw.listen.host;
  const config: ServerConfig = {
    ...raw,
    home,
    publicUrl: (raw.publicUrl ?? `http://${hostInUrl}:${raw.listen.port}`).replace(/\/+$/, ''),
    database: { url: raw.database.url ?? `sqlite:${path.join(home, 'slipway.db')}` },
    logs: { dir: path.resolve(cwd, raw.logs.dir ?? path.join(home, 'logs')) },
    blobs: { dir: path.resolve(cwd, raw.blobs.dir ?? path.join(home, 'blobs')), maxUploadBytes: raw.blobs.maxUploadBytes },
    ui: raw.ui.dir === undefined ? { enabled: raw.ui.enabled } : { enabled: raw.ui.enabled, dir: path.resolve(cwd, raw.ui.dir) },
  };
  try {
    parseStoreUrl(config.database.url);
  } catch (error) {
    problems.push(`database.url: ${messageOf(error)}`);
  }
  if (config.secretsKey !== undefined) {
    try {
      parseSecretsKey(config.secretsKey);
    } catch (error) {
      problems.push(`secretsKey: ${messageOf(error)}`);
    }
  }
  if (problems.length > 0) throw invalid(problems, input);
  return config;
}

/**
 * Reads the configuration file: `--config FILE` when given (it must exist), else
 * slipway.yml in the home directory when there is one.
 */
export async function readConfigFile(input: {
  configPath?: string;
  flags?: ConfigFlags;
  env?: Readonly<Record<string, string | undefined>>;
  cwd?: string;
}): Promise<{ fileText: string; filePath: string } | null> {
  const cwd = input.cwd ?? process.cwd();
  const explicit = input.configPath !== undefined;
  const home = input.flags?.home ?? nonEmpty(input.env?.SLIPWAY_HOME) ?? './.slipway';
  const filePath = path.resolve(cwd, input.configPath ?? path.join(home, 'slipway.yml'));
  try {
    return { fileText: await readFile(filePath, 'utf8'), filePath };
  } catch (error) {
    if (!explicit && (error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new SlipwayError('CONFIG_INVALID', `cannot read the configuration file ${filePath}: ${messageOf(error)}`, { cause: error });
  }
}

function invalid(problems: string[], input: LoadConfigInput): SlipwayError {
  const sources = [input.filePath, 'SLIPWAY_* variables', 'flags'].filter((s) => s !== undefined).join(', ');
  return new SlipwayError(
    'CONFIG_INVALID',
    `the server configuration is invalid (from ${sources}); fix ${problems.length === 1 ? 'this' : `these ${problems.length}`} and start again:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    { details: { problems } },
  );
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A copy of target with value at path; objects met on the way are merged, not replaced. */
function setIn(target: Json, at: string[], value: unknown): Json {
  const [head, ...rest] = at;
  if (head === undefined) return target;
  const current = target[head];
  if (rest.length === 0) {
    return { ...target, [head]: isObject(current) && isObject(value) ? { ...current, ...value } : value };
  }
  return { ...target, [head]: setIn(isObject(current) ? current : {}, rest, value) };
}
