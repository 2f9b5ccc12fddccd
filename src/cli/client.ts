import type { Command } from 'commander';
import { ErrorCode, SlipwayError, isSlipwayError, messageOf } from '../errors/index.js';

/**
 * What the commands that talk to a running server share: the connection flags, a small
 * fetch-based client that turns the API's `{ code, message }` errors into SlipwayErrors,
 * and the table printer.
 */
export type ClientFlags = { server?: string; token?: string; json?: boolean };

/** Adds --server, --token and --json to a command. Defaults come from SLIPWAY_SERVER and SLIPWAY_TOKEN. */
export function withClientOptions(command: Command): Command {
  return command
    .option('--server <url>', 'the Slipway server (default: $SLIPWAY_SERVER or http://127.0.0.1:8080)')
    .option('--token <token>', 'an API token (default: $SLIPWAY_TOKEN)')
    .option('--json', 'print JSON for machines');
}

export type ApiClient = {
  request<T>(method: string, path: string, body?: unknown): Promise<T>;
};

/** An error the server answered with; the commands print its message and exit 1. */
export function isApiError(error: unknown): error is SlipwayError {
  return isSlipwayError(error) && (error.details as { fromServer?: boolean } | undefined)?.fromServer === true;
}

export function apiClient(flags: ClientFlags, env: Readonly<Record<string, string | undefined>> = process.env): ApiClient {
  const server = (flags.server ?? env.SLIPWAY_SERVER ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  const token = flags.token ?? env.SLIPWAY_TOKEN;
  return {
    async request<T>(method: string, path: string, body?: unknown): Promise<T> {
      const headers: Record<string, string> = {};
      if (token !== undefined && token !== '') headers.authorization = `Bearer ${token}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      let response: Response;
      try {
        response = await fetch(`${server}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      } catch (error) {
        const cause = (error as { cause?: unknown }).cause;
        throw new SlipwayError('INTERNAL', `cannot reach the Slipway server at ${server}: ${messageOf(cause ?? error)}; start it with slipway server, or pass --server`, {
          cause: error,
          details: { fromServer: true },
        });
      }
      const text = await response.text();
      if (!response.ok) {
        const parsed = parseJson(text) as { code?: unknown; message?: unknown } | undefined;
        const code = typeof parsed?.code === 'string' && parsed.code in ErrorCode ? (parsed.code as ErrorCode) : 'INTERNAL';
        const message = typeof parsed?.message === 'string' ? parsed.message : `the server answered ${response.status} ${response.statusText}`;
        throw new SlipwayError(code, message, { details: { fromServer: true, status: response.status } });
      }
      return (text === '' ? undefined : parseJson(text)) as T;
    },
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Runs a client command: an error the server sent (or not reaching it) is printed as
 * `slipway: <message>` with exit status 1; anything else goes to the CLI's own handling.
 */
export async function runClient(action: () => Promise<void>): Promise<void> {
  try {
    await action();
  } catch (error) {
    if (!isApiError(error)) throw error;
    process.stderr.write(`slipway: ${error.message}\n`);
    process.exitCode = 1;
  }
}

/** Writes JSON (--json) or the human form. */
export function output(flags: ClientFlags, value: unknown, human: () => string): void {
  process.stdout.write(flags.json === true ? `${JSON.stringify(value, null, 2)}\n` : human());
}

/** Columns padded to their widest cell; the first row is the header. */
export function formatTable(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd()).join('\n') + '\n';
}

export function formatTime(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Every page of a paginated list route. */
export async function listAll<T>(client: ApiClient, path: string): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  do {
    const query: string = `limit=500${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
    const page: { items: T[]; nextCursor: string | null } = await client.request('GET', `${path}?${query}`);
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return items;
}
