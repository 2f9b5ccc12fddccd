import type { JSX } from 'preact';
import { enc } from '../api/client.js';
import type { Build } from '../api/types.js';
import { ago, duration, elapsed, exact, shortSha } from '../format.js';
import { Status } from './status.js';
import { classed, Table } from './table.js';

/** Builds as a table; on a narrow window the less important columns go (see .hide-narrow). */
export function BuildsTable({ builds, showProject, now }: { builds: Build[]; showProject: boolean; now: number }): JSX.Element {
  return (
    <Table class="builds" columns={['Status', 'Build', showProject ? 'Project' : null, 'Ref', 'Commit', ...classed('hide-narrow', 'Trigger', 'Duration', 'Started')]}>
      {builds.map((build) => (
        <tr key={build.id} data-build={build.id} data-status={build.status}>
          <td>
            <Status status={build.status} />
          </td>
          <td>
            <a href={`/builds/${build.id}`}>#{build.number}</a>
          </td>
          {showProject ? (
            <td>
              <a href={`/projects/${enc(build.project)}`}>{build.project}</a>
            </td>
          ) : null}
          <td>
            <code class="ref">{build.ref}</code>
          </td>
          <td class="commit">
            <code title={build.commitSha}>{shortSha(build.commitSha)}</code> <span class="message">{build.commitMessage?.split('\n')[0] ?? ''}</span>
          </td>
          <td class="hide-narrow">{build.source}</td>
          <td class="hide-narrow num">{duration(elapsed(build.startedAt, build.finishedAt, now))}</td>
          <td class="hide-narrow" title={exact(build.createdAt)}>
            {ago(build.createdAt, now)}
          </td>
        </tr>
      ))}
    </Table>
  );
}
