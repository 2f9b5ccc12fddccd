import { homedir } from 'node:os';

/**
 * Variables as a job sees them. Values may reference other variables (`$VAR`,
 * `${VAR}`); `$$` is a literal `$`. A reference to an unknown variable expands to the
 * empty string, like in a shell. References are resolved through other variables, and
 * a variable that refers to itself (`PATH: "$PATH:/opt/bin"`) sees the inherited value.
 */

/** Inherited from the executor's own environment, so tools find their way. */
const INHERITED = new Set([
  'PATH', 'HOME', 'LANG', 'LANGUAGE', 'TZ', 'TMPDIR', 'USER', 'LOGNAME', 'SHELL', 'TERM',
  'http_proxy', 'https_proxy', 'no_proxy', 'HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY',
  'SSL_CERT_FILE', 'SSL_CERT_DIR',
]);
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

const REFERENCE = /\$(\$|\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g;

/** Replaces references in text using lookup; unknown names expand to ''. */
export function expandText(text: string, lookup: (name: string) => string | undefined): string {
  return text.replace(REFERENCE, (match, escaped: string, braced?: string, bare?: string) => {
    if (escaped === '$') return '$';
    const name = braced ?? bare;
    return name === undefined ? match : (lookup(name) ?? '');
  });
}

/**
 * The part of the executor's environment a job inherits: a whitelist, not everything,
 * so that an agent's own credentials never reach a job. PATH and HOME always exist.
 */
export function inheritedEnvironment(env: Readonly<Record<string, string | undefined>>): Record<string, string> {
  const inherited: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && (INHERITED.has(name) || name.startsWith('LC_'))) inherited[name] = value;
  }
  inherited['PATH'] ??= DEFAULT_PATH;
  inherited['HOME'] ??= homedir();
  return inherited;
}

/** Expands every value of variables, resolving references through each other and base. */
export function expandVariables(
  variables: Record<string, string>,
  base: Record<string, string>,
): Record<string, string> {
  const resolved = new Map<string, string>();
  const resolving = new Set<string>();
  const resolve = (name: string): string | undefined => {
    const known = resolved.get(name);
    if (known !== undefined) return known;
    const raw = Object.hasOwn(variables, name) ? variables[name] : undefined;
    if (raw === undefined || resolving.has(name)) return base[name];
    resolving.add(name);
    const value = expandText(raw, resolve);
    resolving.delete(name);
    resolved.set(name, value);
    return value;
  };
  const expanded: Record<string, string> = {};
  for (const name of Object.keys(variables)) expanded[name] = resolve(name) ?? '';
  return expanded;
}

/** A name the operating system accepts in an environment, and a value it can carry. */
export function isPassable(name: string, value: string): boolean {
  return name.length > 0 && !name.includes('=') && !name.includes('\0') && !value.includes('\0');
}
