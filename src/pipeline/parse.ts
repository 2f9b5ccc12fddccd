/**
 * parsePipeline: text → PipelineDefinition, or every problem of the file at once.
 *
 *   1. yaml-tree.ts   YAML → positioned tree (aliases, merge keys, duplicate keys, caps)
 *   2. here           top-level keys: sections, jobs, hidden templates
 *   3. extends.ts     templates merged into jobs
 *   4. validate.ts    each section and job against schema.ts; jobs.ts for cross-key checks
 *   5. needs.ts       stages, needs, dependencies, cycles, expanded names
 *   6. definition.ts  the definition planPipeline consumes, built when nothing is wrong
 */
import { messageOf } from '../errors/index.js';
import { DiagnosticList } from './diagnostics.js';
import { INTERNAL_FORMAT, jobDefinition, ruleDefinition, variablesOf, type PipelineInternal } from './definition.js';
import { ExtendsResolver, type JobSource } from './extends.js';
import { checkJob, checkLabelsAndTags, jobFacts, type JobFacts } from './jobs.js';
import { limits } from './limits.js';
import { expand, type JobInstance } from './matrix.js';
import { checkJobGraph } from './needs.js';
import { defaultSchema, jobSchema, stagesSchema, variablesSchema, workflowSchema, type DefaultInput, type JobInput, type WorkflowInput } from './schema.js';
import { closest } from './suggest.js';
import { child, entry, measure, stringOf, type TreeMap, type TreeNode, type TreePosition } from './tree.js';
import type { PipelineDefinition, Result, SourcePosition } from './types.js';
import { validate, type Scope } from './validate.js';
import { readYamlTree } from './yaml-tree.js';

const KEYWORDS = ['variables', 'stages', 'default', 'workflow'] as const;
const DEFAULT_STAGES = ['build', 'test', 'deploy'];

const NOT_YET = 'is a GitLab keyword Slipway does not support yet';
const UNSUPPORTED_TOP_LEVEL: Record<string, string> = {
  include: 'is not supported yet; copy what it includes into this file (use hidden jobs and `extends` to share settings)',
  spec: NOT_YET,
  image: 'at the top level is not supported; put it under `default:`',
  services: 'at the top level is not supported; put it under `default:`',
  cache: 'at the top level is not supported; put it under `default:`',
  before_script: 'at the top level is not supported; put it under `default:`',
  after_script: 'at the top level is not supported; put it under `default:`',
};
const UNSUPPORTED_JOB_KEYS: Record<string, string> = {
  trigger: 'is not supported yet: Slipway cannot start downstream pipelines',
  include: 'is not supported yet',
  only: 'is not supported; use `rules:`, for example `rules: [{ if: \'$CI_COMMIT_BRANCH == "main"\' }]`',
  except: 'is not supported; use `rules:` with `when: never`',
  release: NOT_YET,
  secrets: NOT_YET,
  id_tokens: NOT_YET,
  pages: NOT_YET,
  hooks: NOT_YET,
  resource_group: NOT_YET,
  identity: NOT_YET,
  manual_confirmation: NOT_YET,
  dast_configuration: NOT_YET,
  run: NOT_YET,
};

export function parsePipeline(text: string, file: string): Result<PipelineDefinition> {
  const diags = new DiagnosticList(file);
  try {
    if (typeof text !== 'string') {
      diags.add({ line: 1, column: 1 }, 'the pipeline file must be text');
    } else {
      const definition = readDefinition(text, diags);
      if (definition !== null && diags.count === 0) return { ok: true, value: definition };
    }
  } catch (error) {
    // A bug here must not take the server down with the user's file; say so plainly.
    diags.add({ line: 1, column: 1 }, `internal error while reading the pipeline file, please report it: ${messageOf(error)}`);
  }
  if (diags.count === 0) diags.add({ line: 1, column: 1 }, 'the pipeline file could not be read');
  return { ok: false, errors: diags.sorted() };
}

function readDefinition(text: string, diags: DiagnosticList): PipelineDefinition | null {
  const root = readYamlTree(text, diags);
  if (root === null) return null;
  if (root.kind !== 'map') {
    diags.add(root.pos, 'the file must be a mapping of top-level keys: `stages:`, `variables:` and jobs such as `build: { script: make }`');
    return null;
  }
  const ownerOf = ownerFinder(root);
  const sourceOf = (pos: TreePosition): SourcePosition => diags.source(pos);
  const at = (node: TreeNode | undefined, fallback: SourcePosition): SourcePosition => (node === undefined ? fallback : sourceOf(node.pos));
  const scope = (key: string, label: string): Scope => ({ diags, ownerOf, rootLabel: label, rootKeyPos: entry(root, key)?.keyPos ?? root.pos });

  const variablesNode = child(root, 'variables');
  if (variablesNode !== undefined) validate(variablesSchema, variablesNode, scope('variables', '`variables`'));
  const stages = readStages(child(root, 'stages'), scope('stages', '`stages`'));
  const defaults = readDefault(child(root, 'default'), scope('default', '`default`'));
  const workflowNode = child(root, 'workflow');
  const workflow: WorkflowInput | undefined = workflowNode === undefined ? undefined : validate(workflowSchema, workflowNode, scope('workflow', '`workflow`'));

  const sources = new Map<string, JobSource>();
  const visible: Array<{ name: string; keyPos: TreePosition; value: TreeMap }> = [];
  for (const [name, { keyPos, value }] of root.entries) {
    if ((KEYWORDS as readonly string[]).includes(name)) continue;
    const special = UNSUPPORTED_TOP_LEVEL[name];
    if (special !== undefined) {
      diags.add(keyPos, `\`${name}\` ${special}`);
      continue;
    }
    sources.set(name, { name, keyPos, value });
    if (name.startsWith('.')) continue;
    if (value.kind === 'map') visible.push({ name, keyPos, value });
    else diags.add(keyPos, notAJob(name, value));
  }
  if (visible.length === 0 && diags.count === 0) {
    diags.add(root.pos, 'the file defines no job; add one, like `build: { script: make }` (names starting with `.` are hidden templates)');
  }

  const resolver = new ExtendsResolver(sources, diags);
  const facts: JobFacts[] = [];
  /** Each visible job as validated; `input` is undefined when its schema check failed. */
  const checked: Array<{ name: string; position: SourcePosition; input: JobInput | undefined; tree: TreeMap; instances: JobInstance[] }> = [];
  let expandedValues = 0;
  for (const { name, keyPos, value } of visible) {
    const { map, complete } = resolver.resolve(name, value);
    expandedValues += measure(map).size;
    if (expandedValues > limits.expandedValues) {
      diags.add(keyPos, `the jobs hold more than ${limits.expandedValues} values once \`extends\` and aliases are applied; simplify the file`);
      return null;
    }
    const input = validate(jobSchema, map, { diags, ownerOf, rootLabel: `job \`${name}\``, rootKeyPos: keyPos, unsupportedKeys: UNSUPPORTED_JOB_KEYS });
    checkJob(name, keyPos, map, complete, diags, ownerOf);
    const expansion = expand(name, child(map, 'parallel'));
    if (expansion.kind === 'too-many') {
      const matrixKey = entry(child(map, 'parallel'), 'matrix')?.keyPos ?? keyPos;
      diags.add(matrixKey, `\`parallel: matrix\` of job \`${name}\` makes ${expansion.count} jobs; the limit is ${limits.jobsPerParallel} per job`);
    }
    const instances = expansion.kind === 'ok' ? expansion.instances : null;
    facts.push(jobFacts(name, keyPos, map, instances));
    checked.push({ name, position: sourceOf(keyPos), input, tree: map, instances: instances ?? [] });
  }
  checkJobGraph({ jobs: facts, hidden: new Set([...sources.keys()].filter((name) => name.startsWith('.'))), stages: stages.all, declaredStages: stages.declared, diags, ownerOf });
  if (diags.count > 0) return null;

  const rulesNode = child(workflowNode, 'rules');
  const internal: PipelineInternal = {
    format: INTERNAL_FORMAT,
    workflowRules: workflow?.rules?.map((rule, index) => ruleDefinition(rule, child(rulesNode, index), at(child(rulesNode, index), sourceOf(root.pos)))) ?? null,
    // Without errors every job passed its schema check, so every input is defined.
    jobs: checked.flatMap((job) => (job.input === undefined ? [] : [jobDefinition({ ...job, input: job.input, defaults: defaults ?? null, at })])),
  };
  return {
    file: diags.file,
    stages: stages.all,
    variables: variablesOf(variablesNode),
    jobNames: visible.map((job) => job.name),
    internal,
  };
}

/** Names the top-level key a position is under: "job `build`", "`default`"... */
function ownerFinder(root: TreeMap): (pos: TreePosition) => string {
  const keys = [...root.entries.values()].sort((a, b) => a.keyPos.offset - b.keyPos.offset);
  return (pos) => {
    let owner: string | null = null;
    for (const { key, keyPos } of keys) {
      if (keyPos.offset > pos.offset) break;
      owner = key;
    }
    if (owner === null) return 'the file';
    return (KEYWORDS as readonly string[]).includes(owner) ? `\`${owner}\`` : `job \`${owner}\``;
  };
}

function notAJob(name: string, value: TreeNode): string {
  const shown = value.kind === 'scalar' && value.value === null ? 'it is empty' : 'it is not a mapping';
  if (Object.hasOwn(jobSchema.shape, name)) {
    return `\`${name}\` at the top level is read as a job named \`${name}\`, and ${shown}; indent it under a job`;
  }
  const keyword = closest(name, KEYWORDS);
  if (keyword !== null) return `unknown top-level key \`${name}\`; did you mean \`${keyword}\`?`;
  return `job \`${name}\` must be a mapping of job keys such as \`script:\`, but ${shown}`;
}

function readStages(node: TreeNode | undefined, scope: Scope): { declared: string[]; all: string[] } {
  if (node === undefined) return { declared: DEFAULT_STAGES, all: ['.pre', ...DEFAULT_STAGES, '.post'] };
  // When the list has mistakes, the stage names that are fine still count for the jobs.
  const stages = validate(stagesSchema, node, scope) ?? (node.kind === 'seq' ? node.items.flatMap((item) => stringOf(item) || []) : []);
  const seen = new Set<string>();
  stages.forEach((stage, index) => {
    const pos = node.kind === 'seq' ? (node.items[index]?.pos ?? node.pos) : node.pos;
    if (seen.has(stage)) scope.diags.add(pos, `stage \`${stage}\` is listed twice in \`stages\``);
    seen.add(stage);
    if (stage === '.pre' && index !== 0) scope.diags.add(pos, '`.pre` is always the first stage; list it first or leave it out');
    if (stage === '.post' && index !== stages.length - 1) scope.diags.add(pos, '`.post` is always the last stage; list it last or leave it out');
  });
  const declared = [...new Set(stages.filter((stage) => stage !== '.pre' && stage !== '.post'))];
  return { declared, all: ['.pre', ...declared, '.post'] };
}

function readDefault(node: TreeNode | undefined, scope: Scope): { input: DefaultInput; tree: TreeMap } | undefined {
  if (node === undefined) return undefined;
  const input = validate(defaultSchema, node, scope);
  if (node.kind !== 'map') return undefined;
  checkLabelsAndTags(node, scope.diags, scope.ownerOf);
  return input === undefined ? undefined : { input, tree: node };
}
