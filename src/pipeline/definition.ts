/**
 * The validated file as planPipeline consumes it (PipelineDefinition.internal): each job
 * with `default:` applied, durations in ms, sizes in MiB, expressions parsed and its
 * parallel/matrix copies named. Built only from a file without errors.
 */
import type { Expression } from './expressions.js';
import { DEFAULT_STAGE } from './jobs.js';
import { filterOf, type JobInstance, type MatrixFilter } from './matrix.js';
import type { DefaultInput, JobInput, RuleInput, WorkflowRuleInput } from './schema.js';
import { child, textOf, type TreeMap, type TreeNode } from './tree.js';
import { HOUR_MS } from './units.js';
import type {
  AllowFailureSpec, ArtifactsSpec, CacheSpec, DeploySpec, EnvironmentSpec, JobSpec, JobWhen, ResourcesSpec, RetryWhen, ServiceSpec, SourcePosition,
} from './types.js';

export type RuleDefinition = {
  if: Expression | null;
  changes: string[] | null;
  exists: string[] | null;
  when: JobWhen | 'never' | null;
  allowFailure: AllowFailureSpec | null;
  startInMs: number | null;
  variables: Record<string, string>;
  position: SourcePosition;
};

export type NeedDefinition = {
  /** A job's name as written: a definition name, or one expanded name. */
  job: string;
  artifacts: boolean;
  optional: boolean;
  filter: MatrixFilter | null;
  position: SourcePosition;
};

/** What a job's copies share; JobSpec minus what planning decides. */
export type JobSettings = Pick<
  JobSpec,
  | 'beforeScript' | 'script' | 'afterScript' | 'image' | 'imageEntrypoint' | 'labels' | 'services' | 'resources' | 'timeoutMs'
  | 'retry' | 'when' | 'startInMs' | 'artifacts' | 'cache' | 'environment' | 'deploy' | 'interruptible' | 'coverage'
>;

export type JobDefinition = {
  name: string;
  position: SourcePosition;
  stage: string;
  instances: JobInstance[];
  needs: NeedDefinition[] | null;
  /** Names from `dependencies:`, or null to take every artifact available. */
  dependencies: string[] | null;
  rules: RuleDefinition[] | null;
  /** The job's own `variables:`. */
  variables: Record<string, string>;
  /** `inherit: variables:`: whether pipeline variables apply, or which ones. */
  inheritVariables: boolean | string[];
  /** `allow_failure` as written; null takes the default, which planning decides from `when`. */
  allowFailure: AllowFailureSpec | null;
  settings: JobSettings;
};

export type PipelineInternal = {
  format: typeof INTERNAL_FORMAT;
  workflowRules: RuleDefinition[] | null;
  jobs: JobDefinition[];
};

export const INTERNAL_FORMAT = 'slipway.pipeline.v1';

export function isPipelineInternal(value: unknown): value is PipelineInternal {
  return typeof value === 'object' && value !== null && (value as { format?: unknown }).format === INTERNAL_FORMAT;
}

type At = (node: TreeNode | undefined, fallback: SourcePosition) => SourcePosition;

/** Variables as text, from the tree so numbers keep the form written (`3.10`). */
export function variablesOf(node: TreeNode | undefined): Record<string, string> {
  const variables: Record<string, string> = {};
  if (node?.kind !== 'map') return variables;
  for (const [name, { value }] of node.entries) variables[name] = textOf(value.kind === 'map' ? child(value, 'value') : value);
  return variables;
}

export function ruleDefinition(rule: RuleInput | WorkflowRuleInput, node: TreeNode | undefined, position: SourcePosition): RuleDefinition {
  return {
    if: rule.if ?? null,
    changes: rule.changes ?? null,
    exists: rule.exists ?? null,
    when: rule.when ?? null,
    allowFailure: 'allow_failure' in rule && rule.allow_failure !== undefined ? allowFailureOf(rule.allow_failure) : null,
    startInMs: 'start_in' in rule ? (rule.start_in ?? null) : null,
    variables: variablesOf(child(node, 'variables')),
    position,
  };
}

export type JobParts = {
  name: string;
  position: SourcePosition;
  input: JobInput;
  tree: TreeMap;
  defaults: { input: DefaultInput; tree: TreeMap } | null;
  instances: JobInstance[];
  at: At;
};

export function jobDefinition({ name, position, input, tree, defaults, instances, at }: JobParts): JobDefinition {
  const inherited = input.inherit?.default ?? true;
  const takes = (key: string): boolean => defaults !== null && (inherited === true || (Array.isArray(inherited) && (inherited as readonly string[]).includes(key)));
  // A key comes from the job, else from `default:` when the job inherits it; the tree
  // goes with it for values read as text (service variables).
  const pick = <K extends keyof DefaultInput & keyof JobInput>(key: K): { value: JobInput[K]; node: TreeNode | undefined } => {
    if (input[key] !== undefined || !takes(key)) return { value: input[key], node: child(tree, key) };
    return { value: defaults?.input[key] as JobInput[K], node: child(defaults?.tree, key) };
  };
  const labelsFrom = input.labels ?? input.tags ?? (takes('labels') || takes('tags') ? (defaults?.input.labels ?? defaults?.input.tags) : undefined);
  const image = pick('image').value;
  const services = pick('services');
  const deployNode = child(tree, 'deploy');
  const rulesNode = child(tree, 'rules');
  return {
    name,
    position,
    stage: input.stage ?? DEFAULT_STAGE,
    instances,
    needs: input.needs === undefined ? null : input.needs.map((need, index) => needDefinition(need, child(child(tree, 'needs'), index), position, at)),
    dependencies: input.dependencies ?? null,
    rules: input.rules?.map((rule, index) => {
      const node = child(rulesNode, index);
      return ruleDefinition(rule, node, at(node, position));
    }) ?? null,
    variables: variablesOf(child(tree, 'variables')),
    inheritVariables: input.inherit?.variables ?? true,
    allowFailure: input.allow_failure === undefined ? null : allowFailureOf(input.allow_failure),
    settings: {
      beforeScript: pick('before_script').value ?? [],
      script: input.script ?? [],
      afterScript: pick('after_script').value ?? [],
      image: image === undefined ? null : typeof image === 'string' ? image : image.name,
      imageEntrypoint: image === undefined || typeof image === 'string' ? null : (image.entrypoint ?? null),
      labels: [...new Set(labelsFrom ?? [])],
      services: (services.value ?? []).map((service, index) => serviceOf(service, child(services.node, index))),
      resources: resourcesOf(pick('resources').value),
      timeoutMs: pick('timeout').value ?? HOUR_MS,
      retry: retryOf(pick('retry').value),
      when: input.when ?? 'on_success',
      startInMs: input.start_in ?? null,
      artifacts: artifactsOf(pick('artifacts').value),
      cache: cacheOf(pick('cache').value),
      environment: environmentOf(input.environment),
      deploy: input.deploy === undefined ? null : deployOf(input.deploy, deployNode),
      interruptible: pick('interruptible').value ?? false,
      coverage: input.coverage ?? null,
    },
  };
}

function needDefinition(need: NonNullable<JobInput['needs']>[number], node: TreeNode | undefined, fallback: SourcePosition, at: At): NeedDefinition {
  const nameNode = node?.kind === 'map' ? child(node, 'job') : node;
  if (typeof need === 'string') return { job: need, artifacts: true, optional: false, filter: null, position: at(nameNode, fallback) };
  const matrix = need.parallel?.matrix;
  return {
    job: need.job,
    artifacts: need.artifacts ?? true,
    optional: need.optional ?? false,
    // The schema accepted this matrix, so filterOf reads it.
    filter: matrix === undefined ? null : filterOf(child(child(node, 'parallel'), 'matrix')),
    position: at(nameNode, fallback),
  };
}

function allowFailureOf(value: NonNullable<JobInput['allow_failure']>): AllowFailureSpec {
  if (typeof value === 'boolean') return value ? { exitCodes: null } : false;
  const codes = value.exit_codes;
  return { exitCodes: typeof codes === 'number' ? [codes] : [...new Set(codes)] };
}

function retryOf(value: JobInput['retry']): { max: number; when: RetryWhen[] } {
  if (value === undefined) return { max: 0, when: ['always'] };
  if (typeof value === 'number') return { max: value, when: ['always'] };
  const when = value.when === undefined ? ['always' as const] : typeof value.when === 'string' ? [value.when] : [...new Set(value.when)];
  return { max: value.max, when };
}

function resourcesOf(value: JobInput['resources']): ResourcesSpec {
  return { cpus: value?.cpus ?? null, memoryMiB: value?.memory ?? null };
}

function serviceOf(value: NonNullable<JobInput['services']>[number], node: TreeNode | undefined): ServiceSpec {
  if (typeof value === 'string') return { image: value, alias: null, entrypoint: null, command: null, variables: {} };
  return {
    image: value.name,
    alias: value.alias ?? null,
    entrypoint: value.entrypoint ?? null,
    command: value.command ?? null,
    variables: variablesOf(child(node, 'variables')),
  };
}

function artifactsOf(value: JobInput['artifacts']): ArtifactsSpec | null {
  if (value === undefined) return null;
  return {
    paths: value.paths,
    exclude: value.exclude ?? [],
    expireInMs: value.expire_in === undefined || value.expire_in === 'never' ? null : value.expire_in,
    when: value.when ?? 'on_success',
    name: value.name ?? null,
  };
}

function cacheOf(value: JobInput['cache']): CacheSpec[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map((cache) => {
    const key = cache.key ?? 'default';
    return {
      key: typeof key === 'string' ? key : '',
      files: typeof key === 'string' ? [] : key.files,
      prefix: typeof key === 'string' ? '' : (key.prefix ?? ''),
      paths: cache.paths,
      policy: cache.policy ?? 'pull-push',
      when: cache.when ?? 'on_success',
    };
  });
}

function environmentOf(value: JobInput['environment']): EnvironmentSpec | null {
  if (value === undefined) return null;
  if (typeof value === 'string') return { name: value, url: null, action: 'start' };
  return { name: value.name, url: value.url ?? null, action: value.action ?? 'start' };
}

function deployOf(value: NonNullable<JobInput['deploy']>, node: TreeNode | undefined): DeploySpec {
  const health = value.health_check;
  return {
    app: value.app,
    image: value.image,
    instances: value.instances ?? 1,
    port: value.port ?? null,
    env: variablesOf(child(node, 'env')),
    healthCheck: health === undefined ? null : { path: health.path, intervalMs: health.interval ?? 10_000, timeoutMs: health.timeout ?? 5_000 },
    resources: resourcesOf(value.resources),
  };
}
