/**
 * Checks of one job that span several keys, done on the positioned tree (after `extends`)
 * so they run even when the schema found other problems in the same job.
 */
import type { DiagnosticList } from './diagnostics.js';
import { filterOf, type JobInstance, type MatrixFilter } from './matrix.js';
import { child, entry, stringOf, type TreeMap, type TreeNode, type TreePosition } from './tree.js';

export type Owner = (pos: TreePosition) => string;

/** What the cross-job checks (needs.ts) need to know about a job, read leniently. */
export type JobFacts = {
  name: string;
  keyPos: TreePosition;
  stage: string;
  /** The `stage:` value, or null when the job takes the default `test`. */
  stagePos: TreePosition | null;
  /** null when `parallel` is malformed (the schema reports it). */
  instances: JobInstance[] | null;
  needs: NeedFact[] | null;
  dependencies: Array<{ name: string; pos: TreePosition }> | null;
};

export type NeedFact = { job: string; pos: TreePosition; filter: MatrixFilter | null; filterPos: TreePosition | null };

export const DEFAULT_STAGE = 'test';

export function checkJob(name: string, keyPos: TreePosition, job: TreeMap, complete: boolean, diags: DiagnosticList, ownerOf: Owner): void {
  if (complete && !job.entries.has('script')) {
    diags.add(keyPos, `job \`${name}\` has no \`script\`; add \`script:\` with the commands to run`);
  }
  checkLabelsAndTags(job, diags, ownerOf);
  checkDelayed(job, diags, ownerOf);
  const rules = child(job, 'rules');
  if (rules?.kind === 'seq') for (const rule of rules.items) if (rule.kind === 'map') checkDelayed(rule, diags, ownerOf, 'rule');
}

export function checkLabelsAndTags(map: TreeMap, diags: DiagnosticList, ownerOf: Owner): void {
  const tags = entry(map, 'tags');
  if (tags !== undefined && map.entries.has('labels')) {
    diags.add(tags.keyPos, `set \`labels\` or its GitLab name \`tags\`, not both (in ${ownerOf(tags.keyPos)})`);
  }
}

/** `when: delayed` and `start_in` go together, in a job or in one rule. */
function checkDelayed(map: TreeMap, diags: DiagnosticList, ownerOf: Owner, where: 'job' | 'rule' = 'job'): void {
  const when = entry(map, 'when');
  const startIn = entry(map, 'start_in');
  const delayed = stringOf(when?.value) === 'delayed';
  const place = where === 'rule' ? ' in the same rule' : '';
  if (startIn !== undefined && !delayed) {
    diags.add(startIn.keyPos, `\`start_in\` only applies with \`when: delayed\`${place}; set \`when: delayed\` or remove \`start_in\` (in ${ownerOf(startIn.keyPos)})`);
  }
  if (when !== undefined && delayed && startIn === undefined) {
    diags.add(when.value.pos, `\`when: delayed\` needs \`start_in\`${place}, like \`start_in: 30 minutes\` (in ${ownerOf(when.value.pos)})`);
  }
}

/** The facts of a job, tolerant of wrong shapes (the schema reports those). */
export function jobFacts(name: string, keyPos: TreePosition, job: TreeMap, instances: JobInstance[] | null): JobFacts {
  const stageNode = child(job, 'stage');
  const stage = stringOf(stageNode);
  return {
    name,
    keyPos,
    stage: stage ?? DEFAULT_STAGE,
    stagePos: stage === null ? null : (stageNode?.pos ?? null),
    instances,
    needs: needFacts(child(job, 'needs')),
    dependencies: namesOf(child(job, 'dependencies')),
  };
}

function needFacts(node: TreeNode | undefined): NeedFact[] | null {
  if (node?.kind !== 'seq') return null;
  const needs: NeedFact[] = [];
  for (const item of node.items) {
    const nameNode = item.kind === 'map' ? child(item, 'job') : item;
    const name = stringOf(nameNode);
    if (name === null || nameNode === undefined) continue;
    const matrix = entry(child(item, 'parallel'), 'matrix');
    needs.push({ job: name, pos: nameNode.pos, filter: matrix === undefined ? null : filterOf(matrix.value), filterPos: matrix?.keyPos ?? null });
  }
  return needs;
}

function namesOf(node: TreeNode | undefined): Array<{ name: string; pos: TreePosition }> | null {
  if (node?.kind !== 'seq') return null;
  const names: Array<{ name: string; pos: TreePosition }> = [];
  for (const item of node.items) {
    const name = stringOf(item);
    if (name !== null) names.push({ name, pos: item.pos });
  }
  return names;
}
