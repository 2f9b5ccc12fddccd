import type { JSX } from 'preact';
import type { Job } from '../api/types.js';
import { duration, elapsed } from '../format.js';
import { Status } from './status.js';

const NODE_W = 190;
const NODE_H = 48;
const GAP_X = 56;
const GAP_Y = 12;
const HEAD = 28;

/** Stages in plan order (the order of their first job). */
export function stagesOf(jobs: Job[]): string[] {
  const stages: string[] = [];
  for (const job of jobs) if (!stages.includes(job.stage)) stages.push(job.stage);
  return stages;
}

/**
 * The pipeline as a graph: a column per stage, a node per job, an edge per need. A job
 * without `needs` waits for every job of the earlier stages: edges come from the stage
 * before it. Positions come from the grid, so nothing is measured in the DOM.
 */
export function PipelineGraph({ jobs, now }: { jobs: Job[]; now: number }): JSX.Element {
  const stages = stagesOf(jobs);
  const place = new Map<string, { x: number; y: number; job: Job }>();
  const columns = stages.map((stage, column) => {
    const inStage = jobs.filter((j) => j.stage === stage);
    inStage.forEach((job, row) => place.set(job.name, { x: column * (NODE_W + GAP_X), y: HEAD + row * (NODE_H + GAP_Y), job }));
    return inStage;
  });
  const width = Math.max(1, stages.length * (NODE_W + GAP_X) - GAP_X);
  const height = HEAD + Math.max(1, ...columns.map((c) => c.length)) * (NODE_H + GAP_Y);
  const edges: JSX.Element[] = [];
  for (const job of jobs) {
    const to = place.get(job.name);
    if (to === undefined) continue;
    const column = stages.indexOf(job.stage);
    const from = job.needs === null ? (columns[column - 1] ?? []).map((j) => j.name) : job.needs;
    for (const name of from) {
      const source = place.get(name);
      if (source === undefined) continue;
      const x1 = source.x + NODE_W;
      const y1 = source.y + NODE_H / 2;
      const x2 = to.x;
      const y2 = to.y + NODE_H / 2;
      const bend = Math.max(24, (x2 - x1) / 2);
      edges.push(<path key={`${name}->${job.name}`} class={`edge edge-${source.job.status}`} d={`M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`} />);
    }
  }
  return (
    <div class="graph-scroll">
      <div class="graph" style={{ width: `${width}px`, height: `${height}px` }} role="group" aria-label="Pipeline graph: stages as columns, jobs as nodes">
        <svg class="edges" width={width} height={height} aria-hidden="true">
          {edges}
        </svg>
        {stages.map((stage, column) => (
          <div key={stage} class="stage-title" style={{ left: `${column * (NODE_W + GAP_X)}px`, width: `${NODE_W}px` }} aria-hidden="true">
            {stage}
          </div>
        ))}
        {[...place.values()].map(({ x, y, job }) => (
          <a
            key={job.id}
            href={`/jobs/${job.id}`}
            class={`node node-${job.failureAllowed && job.status === 'failed' ? 'warning' : job.status}`}
            style={{ left: `${x}px`, top: `${y}px`, width: `${NODE_W}px`, height: `${NODE_H}px` }}
            data-job={job.name}
            data-status={job.status}
            aria-label={`${job.name} (${job.stage}): ${job.status}`}
          >
            <span class="node-name">{job.name}</span>
            <span class="node-meta">
              <Status status={job.status} allowed={job.failureAllowed} />
              <span class="muted">{duration(elapsed(job.startedAt, job.finishedAt, now))}</span>
            </span>
          </a>
        ))}
      </div>
    </div>
  );
}
