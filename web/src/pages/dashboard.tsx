import type { JSX } from 'preact';
import { useEffect } from 'preact/hooks';
import { recentBuilds } from '../api/builds.js';
import { get } from '../api/client.js';
import type { AgentCounts, CapacitySample, Stats } from '../api/types.js';
import { BuildsTable } from '../components/builds-table.js';
import { CapacityChart } from '../components/chart.js';
import { Card, Empty, ErrorBox, Loading } from '../components/common.js';
import { classed, Table } from '../components/table.js';
import { duration } from '../format.js';
import { useEvents, useLoad, useNow, useTitle } from '../hooks.js';

// Stats are samples over time: a refresh every 10 s keeps the chart moving between events.
const STATS_REFRESH_MS = 10_000;

const loadStats = (signal: AbortSignal) => get<Stats>('/api/v1/stats', signal);

function AgentTable({ rows }: { rows: AgentCounts[] }): JSX.Element {
  if (rows.length === 0) return <Empty>No engine has launched agents yet.</Empty>;
  return (
    <Table columns={['Engine', 'Template', ...classed('num', 'Busy', 'Idle', 'Provisioning')]}>
      {rows.map((row) => (
        <tr key={`${row.engine}/${row.template}`}>
          <td>{row.engine ?? <span class="muted">started by hand</span>}</td>
          <td>{row.template ?? '—'}</td>
          <td class="num">{row.busy}</td>
          <td class="num">{row.idle}</td>
          <td class="num">{row.provisioning}</td>
        </tr>
      ))}
    </Table>
  );
}

/** The agents counted now, over every engine and template: the tile, and the chart's newest point (samples come every 15 s). */
function agentTotals(rows: AgentCounts[]): Pick<CapacitySample, 'busy' | 'idle' | 'provisioning'> {
  const total = (key: 'busy' | 'idle' | 'provisioning') => rows.reduce((n, row) => n + row[key], 0);
  return { busy: total('busy'), idle: total('idle'), provisioning: total('provisioning') };
}

export function Dashboard(): JSX.Element {
  useTitle('Dashboard');
  const now = useNow();
  const builds = useLoad((signal) => recentBuilds(15, signal), []);
  const stats = useLoad(loadStats, []);
  // A build's row changes only with its build.* events (durations tick on the clock): its jobs' events don't touch it.
  useEvents((e) => e.type.startsWith('build.'), builds.reload, 500);
  useEvents((e) => e.type === 'agent.updated' || e.type === 'job.updated', stats.reload, 1000);
  useEffect(() => {
    const timer = setInterval(stats.reload, STATS_REFRESH_MS);
    return () => clearInterval(timer);
  }, [stats.reload]);
  const s = stats.data;
  const agentsNow = agentTotals(s?.agents ?? []);
  return (
    <main id="main" class="page">
      <h1>Dashboard</h1>
      <div class="tiles" aria-label="Queue">
        <div class="tile">
          <span class="tile-label">Jobs queued</span>
          <span class="tile-value" data-testid="queue-length">
            {s === null ? '—' : s.queue.length}
          </span>
        </div>
        <div class="tile">
          <span class="tile-label">Longest wait</span>
          <span class="tile-value">{s === null ? '—' : duration(s.queue.oldestWaitMs)}</span>
        </div>
        <div class="tile">
          <span class="tile-label">Wait p50 / p90</span>
          <span class="tile-value">{s === null ? '—' : `${duration(s.queue.waitP50Ms)} / ${duration(s.queue.waitP90Ms)}`}</span>
        </div>
        <div class="tile">
          <span class="tile-label">Agents busy / idle / provisioning</span>
          <span class="tile-value">
            {s === null ? '—' : `${agentsNow.busy} / ${agentsNow.idle} / ${agentsNow.provisioning}`}
          </span>
        </div>
      </div>
      <Card title="Recent builds" id="recent-builds">
        <ErrorBox error={builds.error} />
        {builds.data === null ? <Loading what="builds" /> : builds.data.length === 0 ? <Empty>No builds yet. Open a project and start one.</Empty> : <BuildsTable builds={builds.data} showProject now={now} />}
      </Card>
      <div class="columns">
        <Card title="Capacity, last hour" id="capacity">
          <ErrorBox error={stats.error} />
          {s === null ? <Loading what="capacity" /> : <CapacityChart samples={[...s.capacity, { at: now, ...agentsNow }]} now={now} />}
        </Card>
        <Card title="Agents per engine and template" id="agent-counts" actions={<a href="/agents">All agents</a>}>
          {s === null ? <Empty>—</Empty> : <AgentTable rows={s.agents} />}
        </Card>
      </div>
    </main>
  );
}
