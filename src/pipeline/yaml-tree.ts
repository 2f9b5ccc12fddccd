/**
 * Reads pipeline text into the positioned tree (tree.ts) with the `yaml` library's
 * document AST. Aliases and merge keys (`<<: *x`, `<<: [*a, *b]`) are resolved here rather
 * than by the library so that every value keeps its position and so that hostile files
 * stop at a cap: size, values, nesting depth and values produced by aliases.
 */
import { Lexer, LineCounter, isAlias, isMap, isPair, isScalar, isSeq, parseDocument, type Document, type YAMLError } from 'yaml';
import type { DiagnosticList } from './diagnostics.js';
import { limits } from './limits.js';
import { measure, nullScalar, type TreeEntry, type TreeMap, type TreeNode, type TreePosition, type TreeScalar } from './tree.js';

/** Marker tokens the lexer adds that are not characters of the source. */
const LEXER_MARKERS = new Set(['\x02', '\x18', '\x1f']);

/** Syntax errors past this many are noise caused by the first ones. */
const MAX_SYNTAX_ERRORS = 20;

/**
 * The tree of a file, or null when it cannot be read; problems go to `diags`. Duplicate
 * keys and bad aliases are reported but still yield a tree, so later checks run too.
 */
export function readYamlTree(text: string, diags: DiagnosticList): TreeNode | null {
  const start = { line: 1, column: 1 };
  const bytes = text.length > limits.fileBytes / 4 ? Buffer.byteLength(text, 'utf8') : text.length;
  if (bytes > limits.fileBytes) {
    diags.add(start, `the file is ${Math.ceil(bytes / 1024)} KiB; a pipeline file may be at most ${limits.fileBytes / 1024} KiB`);
    return null;
  }
  const lines = new LineCounter();
  if (!prescan(text, lines, diags)) return null;

  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false, merge: true, strict: true });
  const at = (offset: number): TreePosition => position(lines, offset);
  if (doc.errors.length > 0) {
    for (const error of doc.errors.slice(0, MAX_SYNTAX_ERRORS)) diags.add(at(error.pos[0]), syntaxMessage(error));
    return null;
  }
  for (const warning of doc.warnings) {
    if (warning.code === 'TAG_RESOLVE_FAILED') {
      const tag = text.slice(warning.pos[0], warning.pos[1]).split(/\s/)[0] ?? '';
      diags.add(at(warning.pos[0]), `unknown YAML tag \`${tag}\`; remove it (GitLab's \`!reference\` is not supported: use anchors or \`extends\`)`);
    }
  }
  if (doc.contents === null) {
    diags.add(start, 'the file is empty; define at least one job with a `script:`');
    return null;
  }
  const builder = new TreeBuilder(doc, text, lines, diags);
  const root = builder.build(doc.contents, 0, 1);
  return builder.failed ? null : root;
}

function position(lines: LineCounter, offset: number): TreePosition {
  const { line, col } = lines.linePos(offset);
  return { line, column: col, offset };
}

/**
 * One pass of the library's lexer (fast, not recursive) before the parser, whose composer
 * recurses once per level of `[[[[...` and slows down with millions of values.
 */
function prescan(text: string, lines: LineCounter, diags: DiagnosticList): boolean {
  let values = 0;
  let depth = 0;
  let offset = 0;
  for (const token of new Lexer().lex(text)) {
    const first = token[0];
    if (token === '\x1f' || first === '"' || first === "'" || first === '*') values++;
    if (token === '[' || token === '{') {
      values++;
      depth++;
      if (depth > limits.depth) {
        // Lines are only counted by the parser, so count them here for this one message.
        lines.addNewLine(0);
        for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) lines.addNewLine(i + 1);
        diags.add(position(lines, offset), `values are nested more than ${limits.depth} levels deep; flatten the file`);
        return false;
      }
    } else if (token === ']' || token === '}') {
      depth = Math.max(0, depth - 1);
    }
    if (values > limits.yamlValues) {
      diags.add({ line: 1, column: 1 }, `the file has more than ${limits.yamlValues} YAML values; split it or simplify it`);
      return false;
    }
    if (!LEXER_MARKERS.has(token)) offset += token.length;
  }
  return true;
}

function syntaxMessage(error: YAMLError): string {
  switch (error.code) {
    case 'MULTIPLE_DOCS':
      return 'YAML syntax error: a pipeline file holds one YAML document; remove the `---` separator';
    case 'TAB_AS_INDENT':
      return 'YAML syntax error: indent with spaces, not tabs';
    case 'DUPLICATE_KEY':
      return 'duplicate key; each key may appear once in a mapping';
    default: {
      const message = error.message.replace(/ at line \d+, column \d+[\s\S]*$/, '').trim();
      return `YAML syntax error: ${message.charAt(0).toLowerCase()}${message.slice(1)}`;
    }
  }
}

type YamlNode = NonNullable<Document['contents']>;

function isMergeKey(key: unknown): boolean {
  return isScalar(key) && (typeof key.value === 'symbol' || (key.value === '<<' && key.type === 'PLAIN'));
}

class TreeBuilder {
  failed = false;
  private readonly doc: Document;
  private readonly text: string;
  private readonly lines: LineCounter;
  private readonly diags: DiagnosticList;
  private readonly anchored = new Map<unknown, TreeNode>();
  /**
   * The latest node carrying each anchor name, filled as the walk meets them in document
   * order (an alias refers to the closest anchor before it). The yaml library's
   * Alias.resolve() searches the whole document on every call: quadratic in big files.
   */
  private readonly anchors = new Map<string, unknown>();
  private readonly inProgress = new Set<unknown>();
  private expansions = 0;

  constructor(doc: Document, text: string, lines: LineCounter, diags: DiagnosticList) {
    this.doc = doc;
    this.text = text;
    this.lines = lines;
    this.diags = diags;
  }

  /** `depth` counts the collections around the node, 1 for the root. */
  build(node: unknown, fallbackOffset: number, depth: number): TreeNode {
    const offset = rangeOf(node)?.[0] ?? fallbackOffset;
    if (this.failed) return nullScalar(this.at(offset));
    if (isAlias(node)) return this.resolveAlias(node.source, this.anchors.get(node.source) as YamlNode | undefined, offset, depth);
    if ((isMap(node) || isSeq(node)) && depth > limits.depth) {
      return this.fail(offset, `values are nested more than ${limits.depth} levels deep; flatten the file`);
    }
    const anchor = hasAnchor(node);
    if (anchor) {
      this.anchors.set((node as { anchor: string }).anchor, node);
      this.inProgress.add(node);
    }
    let built: TreeNode;
    if (isMap(node)) built = this.map(node.items, offset, depth);
    else if (isSeq(node)) built = this.seq(node.items, offset, depth);
    else if (isScalar(node)) built = this.scalar(node.value, node.type, rangeOf(node) ?? [offset, offset]);
    else built = nullScalar(this.at(offset));
    if (anchor) {
      this.inProgress.delete(node);
      this.anchored.set(node, built);
    }
    return built;
  }

  private resolveAlias(name: string, target: YamlNode | undefined, offset: number, depth: number): TreeNode {
    const here = this.at(offset);
    if (target === undefined) {
      this.diags.add(here, `alias \`*${name}\` refers to no anchor; define \`&${name}\` on a value before this alias`);
      return nullScalar(here);
    }
    if (this.inProgress.has(target)) {
      this.diags.add(here, `alias \`*${name}\` is inside the value it refers to, which would repeat forever`);
      return nullScalar(here);
    }
    const built = this.anchored.get(target) ?? this.build(target, offset, depth);
    const { size, height } = measure(built);
    if (built.kind !== 'scalar' && depth + height - 1 > limits.depth) {
      return this.fail(offset, `values are nested more than ${limits.depth} levels deep once \`*${name}\` is resolved; flatten the file`);
    }
    this.expansions += size;
    if (this.expansions > limits.aliasExpansions) {
      return this.fail(offset, `too many alias expansions: resolving \`*${name}\` here takes the file past ${limits.aliasExpansions} values copied by aliases; use fewer nested aliases`);
    }
    return built;
  }

  private map(items: readonly unknown[], offset: number, depth: number): TreeMap {
    const keys = items.map((pair) => (isPair(pair) && isMergeKey(pair.key) ? 'merge' : this.key(pair, offset)));
    const explicit = new Set<string>();
    for (const key of keys) if (key !== 'merge' && key !== null) explicit.add(key.text);
    const entries = new Map<string, TreeEntry>();
    items.forEach((pair, index) => {
      const key = keys[index];
      if (key === null || key === undefined || !isPair(pair)) return;
      const valueOffset = rangeOf(pair.key)?.[1] ?? offset;
      if (key === 'merge') {
        for (const source of this.mergeSources(pair.value, valueOffset, depth)) {
          for (const [name, merged] of source.entries) if (!explicit.has(name) && !entries.has(name)) entries.set(name, merged);
        }
        return;
      }
      const previous = entries.get(key.text);
      if (previous !== undefined) {
        this.diags.add(key.pos, `duplicate key \`${key.text}\`: it is already set at line ${previous.keyPos.line}; keep only one`);
        return;
      }
      entries.set(key.text, { key: key.text, keyPos: key.pos, value: this.build(pair.value, valueOffset, depth + 1) });
    });
    return { kind: 'map', entries, pos: this.at(offset) };
  }

  /** The mappings a `<<` key merges, earliest first (earlier ones win, as YAML says). */
  private mergeSources(value: unknown, offset: number, depth: number): TreeMap[] {
    const sources = isSeq(value) ? value.items : [value];
    const maps: TreeMap[] = [];
    for (const source of sources) {
      const built = this.build(source, offset, depth);
      if (built.kind === 'map') maps.push(built);
      else if (!this.failed) this.diags.add(built.pos, '`<<` merges mappings: write `<<: *name` where `&name` marks a mapping, or `<<: [*a, *b]`');
    }
    return maps;
  }

  private key(pair: unknown, offset: number): { text: string; pos: TreePosition } | null {
    if (!isPair(pair)) return null;
    const keyNode = isAlias(pair.key) ? this.anchors.get(pair.key.source) : pair.key;
    const pos = this.at(rangeOf(pair.key)?.[0] ?? offset);
    if (!isScalar(keyNode)) {
      this.diags.add(pos, 'a key must be a plain name, not a mapping or a list');
      return null;
    }
    const scalar = this.scalar(keyNode.value, keyNode.type, rangeOf(keyNode) ?? [pos.offset, pos.offset]);
    if (scalar.text === '') {
      this.diags.add(pos, 'a key must not be empty');
      return null;
    }
    return { text: scalar.text, pos };
  }

  private seq(items: readonly unknown[], offset: number, depth: number): TreeNode {
    const built: TreeNode[] = [];
    for (const item of items) {
      if (isPair(item)) {
        this.diags.add(this.at(rangeOf(item.key)?.[0] ?? offset), '`!!omap` and `!!pairs` lists are not supported; use a mapping');
        continue;
      }
      built.push(this.build(item, offset, depth + 1));
    }
    return { kind: 'seq', items: built, pos: this.at(offset) };
  }

  private scalar(raw: unknown, type: string | undefined, range: readonly number[]): TreeScalar {
    const [start = 0, end = start] = range;
    const source = this.text.slice(start, end);
    const pos = this.at(start);
    let value: TreeScalar['value'];
    if (typeof raw === 'string' || typeof raw === 'number' || typeof raw === 'boolean') value = raw;
    else if (raw === null || raw === undefined) value = null;
    else value = source.trim(); // binary, timestamps and other tagged values: as written
    const text = typeof value === 'string' ? value : value === null ? '' : source.trim() || String(value);
    let inlineShift: number | null = null;
    if (typeof value === 'string' && !source.includes('\n')) {
      if (type === 'PLAIN' && source === value) inlineShift = 0;
      else if ((type === 'QUOTE_SINGLE' || type === 'QUOTE_DOUBLE') && source.slice(1, -1) === value) inlineShift = 1;
    }
    return { kind: 'scalar', value, text, pos, inlineShift };
  }

  private fail(offset: number, message: string): TreeScalar {
    if (!this.failed) this.diags.add(this.at(offset), message);
    this.failed = true;
    return nullScalar(this.at(offset));
  }

  private at(offset: number): TreePosition {
    return position(this.lines, offset);
  }
}

function rangeOf(node: unknown): readonly number[] | undefined {
  if (typeof node !== 'object' || node === null || !('range' in node)) return undefined;
  const range: unknown = node.range;
  return Array.isArray(range) && typeof range[0] === 'number' ? (range as number[]) : undefined;
}

function hasAnchor(node: unknown): boolean {
  return typeof node === 'object' && node !== null && 'anchor' in node && typeof node.anchor === 'string';
}
