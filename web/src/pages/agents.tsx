import type { JSX } from 'preact';
import { enc, get } from '../api/client.js';
import type { Agent } from '../api/types.js';
import { Card, Empty, ErrorBox, Loading } from '../components/common.js';
import { classed, Table } from '../components/table.js';
import { ago, exact } from '../format.js';
import { useEvents, useLoad, useNow, useTitle } from '../hooks.js';

const STATES = ['busy', 'idle', 'provisioning', 'unreachable'] as const;

async function loadAgents(signal: AbortSignal): Promise<Agent[]> {
  return (await get<{ items: Agent[] }>('/api/v1/agents', signal)).items;
}

function groupKey(agent: Agent): string {
  return agent.engine === null ? 'Agents started by hand' : `${agent.engine} · ${agent.template ?? 'default'}`;
}

export function AgentsPage(): JSX.Element {
  useTitle('Agents');
  const now = useNow(5000);
  const agents = useLoad(loadAgents, []);
  useEvents((e) => e.type === 'agent.updated' || e.type === 'job.updated', agents.reload, 500);
  const groups = new Map<string, Agent[]>();
  for (const agent of agents.data ?? []) groups.set(groupKey(agent), [...(groups.get(groupKey(agent)) ?? []), agent]);
  return (
    <main id="main" class="page">
      <h1>Agents</h1>
      <ErrorBox error={agents.error} />
      {agents.loading && agents.data === null ? <Loading what="agents" /> : null}
      {agents.data !== null && agents.data.length === 0 ? <Empty>No agent is connected or being launched. Engines launch agents when jobs are queued.</Empty> : null}
      {[...groups.entries()].map(([key, list]) => (
        <Card key={key} title={key} id={`group-${key.replace(/\W+/g, '-')}`} actions={<span class="counts">{STATES.map((s) => `${list.filter((a) => a.state === s).length} ${s}`).join(' · ')}</span>}>
          <Table class="agents" columns={['Agent', 'State', 'Current job', ...classed('hide-narrow', 'Labels', 'Connected')]}>
            {list.map((agent) => (
              <tr key={`${agent.id ?? 'p'}-${agent.name}`} data-state={agent.state}>
                <td>
                  {agent.name}
                  {agent.image ? <div class="muted small">{agent.image}</div> : null}
                </td>
                <td>
                  <span class={`status status-agent-${agent.state}`}>{agent.state}</span>
                </td>
                <td>
                  {agent.jobs.length === 0
                    ? '—'
                    : agent.jobs.map((job) => (
                        <div key={job.jobId}>
                          <a href={`/jobs/${job.jobId}`}>{job.jobName}</a>{' '}
                          <span class="muted">
                            (<a href={`/projects/${enc(job.project)}`}>{job.project}</a> <a href={`/builds/${job.buildId}`}>#{job.buildNumber}</a>)
                          </span>
                        </div>
                          ))}
                    </td>
                    <td class="hide-narrow">{agent.labels.length === 0 ? <span class="muted">none</span> : agent.labels.map((l) => <code key={l} class="label">{l}</code>)}</td>
                    <td class="hide-narrow" title={exact(agent.connectedAt)}>
                      {agent.connectedAt === null ? '—' : ago(agent.connectedAt, now)}
                    </td>
                  </tr>
            ))}
          </Table>
        </Card>
      ))}
    </main>
  );
}
