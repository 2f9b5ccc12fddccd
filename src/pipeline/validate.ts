/**
 * Runs a zod schema (schema.ts) over a positioned tree and turns each issue into a
 * diagnostic at the key or value it is about, with a message that says what to change:
 *
 *   unknown key `scirpt` in job `build`; did you mean `script`?
 *   `timeout` must be a duration like 90s, 10m or 1h, not `ten` (in job `build`)
 *   missing key `app` in `deploy` of job `web`
 *
 * Messages are built from issue codes by an error map passed to `safeParse` (schemas may
 * set their own, which win). Positions come from following the issue's path in the tree.
 */
import { z } from 'zod';
import type { DiagnosticList } from './diagnostics.js';
import { closest, didYouMean, listOf } from './suggest.js';
import { describeValue, entry, positionInScalar, toPlain, type TreeNode, type TreePosition } from './tree.js';

export type Scope = {
  diags: DiagnosticList;
  /** Names what holds a position, e.g. "job `build`" or "`default`" (where to fix it). */
  ownerOf: (pos: TreePosition) => string;
  /** What the validated node is called, e.g. "job `build`" or "`stages`". */
  rootLabel: string;
  /** Where to report problems with the node as a whole (its key in the file). */
  rootKeyPos: TreePosition;
  /** Keys that mean something elsewhere (GitLab), with the message to give for them. */
  unsupportedKeys?: Readonly<Record<string, string>>;
};

type Path = readonly PropertyKey[];

/** The schema's output, or undefined after reporting every issue to `scope.diags`. */
export function validate<S extends z.ZodType>(schema: S, node: TreeNode, scope: Scope): z.output<S> | undefined {
  const allowedKeys = new WeakMap<object, string[]>();
  const plain = toPlain(node);
  const result = schema.safeParse(plain, { error: (issue) => defaultMessage(issue, allowedKeys) });
  if (result.success) return result.data;
  const reporter = new IssueReporter(node, plain, scope, allowedKeys);
  for (const issue of result.error.issues) reporter.report(issue, []);
  return undefined;
}

/** The message of a missing key, which is reported at the mapping that lacks it. */
const REQUIRED = 'is required';

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a mapping',
  record: 'a mapping',
  map: 'a mapping',
  array: 'a list',
  tuple: 'a list',
  null: 'empty',
};

function defaultMessage(issue: z.core.$ZodRawIssue, allowedKeys: WeakMap<object, string[]>): string | undefined {
  switch (issue.code) {
    case 'unrecognized_keys':
      if (issue.inst instanceof z.ZodObject && typeof issue.input === 'object' && issue.input !== null) {
        allowedKeys.set(issue.input, Object.keys(issue.inst.shape));
      }
      return 'has unknown keys';
    case 'invalid_type':
      return issue.input === undefined ? REQUIRED : `must be ${TYPE_NAMES[issue.expected] ?? issue.expected}`;
    case 'too_small': {
      const min = Number(issue.minimum);
      if (issue.origin === 'array') return min === 1 ? 'must not be empty' : `must have at least ${min} items`;
      if (issue.origin === 'string') return min === 1 ? 'must not be empty' : `must be at least ${min} characters long`;
      return issue.inclusive === false ? `must be greater than ${min}` : `must be at least ${min}`;
    }
    case 'too_big': {
      const max = Number(issue.maximum);
      if (issue.origin === 'array') return `must have at most ${max} items`;
      if (issue.origin === 'string') return `must be at most ${max} characters long`;
      return issue.inclusive === false ? `must be less than ${max}` : `must be at most ${max}`;
    }
    case 'invalid_value':
      return `must be ${listOf(issue.values.map(String), 'or')}`;
    case 'invalid_format':
      return 'has the wrong format';
    default:
      return undefined;
  }
}

class IssueReporter {
  private readonly root: TreeNode;
  private readonly plain: unknown;
  private readonly scope: Scope;
  private readonly allowedKeys: WeakMap<object, string[]>;

  constructor(root: TreeNode, plain: unknown, scope: Scope, allowedKeys: WeakMap<object, string[]>) {
    this.root = root;
    this.plain = plain;
    this.scope = scope;
    this.allowedKeys = allowedKeys;
  }

  report(issue: z.core.$ZodIssue, prefix: Path): void {
    const path = [...prefix, ...issue.path];
    switch (issue.code) {
      case 'invalid_union': {
        // Report inside the one alternative that had the right kind of value (a mapping
        // for `{ job, artifacts }`, a list for `[a, b]`), else the union's own "must be
        // X or Y" message. An alternative whose only complaint is the value's type or
        // literal value at the top was the wrong kind.
        const near = issue.errors.filter((branch) => !wrongKind(branch));
        if (near.length === 1) {
          for (const sub of near[0] ?? []) this.report(sub, path);
          return;
        }
        break;
      }
      case 'unrecognized_keys':
        for (const key of issue.keys) this.unknownKey(path, key);
        return;
      case 'invalid_key': {
        const { node } = this.locate(path.slice(0, -1));
        const key = String(path[path.length - 1]);
        const at = entry(node, key)?.keyPos ?? this.locate(path).anchor;
        const reason = issue.issues[0]?.message ?? 'is not allowed';
        this.scope.diags.add(at, `\`${key}\` ${reason}${this.context(at, path)}`);
        return;
      }
      default:
        break;
    }
    this.value(path, issue);
  }

  private value(path: Path, issue: z.core.$ZodIssue): void {
    const { node, anchor } = this.locate(path);
    if (node === undefined && issue.message === REQUIRED) {
      const key = String(path[path.length - 1]);
      // `{ jb: x }` already gets "unknown key `jb`; did you mean `job`?": say it once.
      if (!this.misspelled(path.slice(0, -1), key)) {
        this.scope.diags.add(anchor, `missing key \`${key}\` in ${this.container(path.slice(0, -1), anchor)}`);
      }
      return;
    }
    let at = node?.pos ?? anchor;
    const offset: unknown = issue.code === 'custom' ? issue.params?.['offset'] : undefined;
    if (node?.kind === 'scalar' && typeof offset === 'number') at = positionInScalar(node, offset);
    let text = `${this.label(path)} ${issue.message}`;
    // "not a list" helps when the kind is wrong; "must not be empty, not a list" would not.
    const kindMatters = node?.kind === 'scalar' || issue.code === 'invalid_type' || issue.code === 'invalid_union';
    if (node !== undefined && kindMatters && issue.message.startsWith('must') && issue.message !== 'must not be empty') {
      text += node.kind === 'scalar' && node.value === null ? ', but it is empty' : `, not ${describeValue(node)}`;
    }
    if (issue.code === 'invalid_value' && node?.kind === 'scalar') text += didYouMean(node.text, issue.values.map(String));
    text += this.context(at, path);
    this.scope.diags.add(at, text);
  }

  private unknownKey(path: Path, key: string): void {
    const { node, anchor } = this.locate(path);
    const at = entry(node, key)?.keyPos ?? anchor;
    const special = path.length === 0 ? this.scope.unsupportedKeys?.[key] : undefined;
    if (special !== undefined) {
      this.scope.diags.add(at, `\`${key}\` ${special}${this.context(at, path)}`);
      return;
    }
    const allowed = this.allowedKeysAt(path) ?? [];
    const hint = didYouMean(key, allowed) || (allowed.length > 0 && allowed.length <= 12 ? `; expected ${listOf(allowed, 'or')}` : '');
    this.scope.diags.add(at, `unknown key \`${key}\` in ${this.container(path, at)}${hint}`);
  }

  /** Whether the mapping at `path` has an unknown key that is a typo of `key`. */
  private misspelled(path: Path, key: string): boolean {
    const map = this.locate(path).node;
    const allowed = this.allowedKeysAt(path);
    if (map?.kind !== 'map' || allowed === undefined) return false;
    return [...map.entries.keys()].some((written) => !allowed.includes(written) && closest(written, allowed) === key);
  }

  /** The keys the mapping at `path` allows, known when it had an unknown key. */
  private allowedKeysAt(path: Path): string[] | undefined {
    const container = plainAt(this.plain, path);
    return typeof container === 'object' && container !== null ? this.allowedKeys.get(container) : undefined;
  }

  /** `timeout`, `artifacts.expire_in`, `needs` item 2, or the root's own name. */
  private label(path: Path): string {
    const keys = path.filter((step): step is string => typeof step === 'string');
    const last = path[path.length - 1];
    const item = typeof last === 'number' ? ` item ${last + 1}` : '';
    return keys.length > 0 ? `\`${keys.join('.')}\`${item}` : `${this.scope.rootLabel}${item}`;
  }

  /** " (in job `build`)", unless the label already says where. */
  private context(at: TreePosition, path: Path): string {
    const owner = this.scope.ownerOf(at);
    return this.label(path).startsWith(owner) ? '' : ` (in ${owner})`;
  }

  /** "job `build`" or "`artifacts` of job `build`". */
  private container(path: Path, at: TreePosition): string {
    const keys = path.filter((step): step is string => typeof step === 'string');
    const owner = this.scope.ownerOf(at);
    return keys.length > 0 ? `\`${keys.join('.')}\` of ${owner}` : owner;
  }

  /** The node at a path and, when it is missing, the position of its nearest ancestor's key. */
  private locate(path: Path): { node: TreeNode | undefined; anchor: TreePosition } {
    let node: TreeNode | undefined = this.root;
    let anchor = this.scope.rootKeyPos;
    for (const step of path) {
      if (node?.kind === 'map' && typeof step === 'string') {
        const found = node.entries.get(step);
        if (found === undefined) return { node: undefined, anchor };
        anchor = found.keyPos;
        node = found.value;
      } else if (node?.kind === 'seq' && typeof step === 'number' && node.items[step] !== undefined) {
        node = node.items[step];
        anchor = node?.pos ?? anchor;
      } else {
        return { node: undefined, anchor };
      }
    }
    return { node, anchor };
  }
}

/** Whether a union alternative failed only because the value is of another kind. */
function wrongKind(issues: readonly z.core.$ZodIssue[]): boolean {
  return issues.every((issue) =>
    issue.path.length === 0 &&
    (issue.code === 'invalid_type' || issue.code === 'invalid_value' || (issue.code === 'invalid_union' && issue.errors.every(wrongKind))));
}

function plainAt(value: unknown, path: Path): unknown {
  let current = value;
  for (const step of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<PropertyKey, unknown>)[step];
  }
  return current;
}
