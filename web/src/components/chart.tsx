import type { JSX } from 'preact';
import type { CapacitySample } from '../api/types.js';

const SERIES = [
  { key: 'busy', label: 'busy', className: 'area-busy' },
  { key: 'idle', label: 'idle', className: 'area-idle' },
  { key: 'provisioning', label: 'provisioning', className: 'area-provisioning' },
] as const;

/** Agents over the last hour as stacked bars (busy, idle, provisioning), in SVG. */
export function CapacityChart({ samples, now }: { samples: CapacitySample[]; now: number }): JSX.Element {
  const width = 600;
  const height = 160;
  const pad = { left: 32, right: 8, top: 8, bottom: 22 };
  const from = now - 60 * 60 * 1000;
  const points = samples.filter((s) => s.at >= from).sort((a, b) => a.at - b.at);
  const peak = Math.max(1, ...points.map((s) => s.busy + s.idle + s.provisioning));
  const x = (at: number) => pad.left + ((at - from) / (now - from)) * (width - pad.left - pad.right);
  const y = (v: number) => height - pad.bottom - (v / peak) * (height - pad.top - pad.bottom);
  // A stacked bar per sample (one every 15 s: 240 an hour), so even the first sample shows.
  const barWidth = Math.max(2, (width - pad.left - pad.right) / 240 - 0.5);
  const bars: JSX.Element[] = [];
  for (const point of points) {
    let below = 0;
    for (const series of SERIES) {
      const value = point[series.key];
      if (value > 0) bars.push(<rect key={`${point.at}-${series.key}`} class={series.className} x={Math.max(pad.left, x(point.at) - barWidth)} width={barWidth} y={y(below + value)} height={y(below) - y(below + value)} />);
      below += value;
    }
  }
  const last = points[points.length - 1];
  const summary = last === undefined ? 'No samples in the last hour.' : `Now: ${last.busy} busy, ${last.idle} idle, ${last.provisioning} provisioning; peak ${peak} agents in the last hour.`;
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={`Capacity in use over the last hour. ${summary}`} preserveAspectRatio="none">
        {[...new Set([0, Math.round(peak / 2), peak])].map((v) => (
          <g key={v}>
            <line class="grid" x1={pad.left} x2={width - pad.right} y1={y(v)} y2={y(v)} />
            <text class="axis" x={pad.left - 6} y={y(v) + 4} text-anchor="end">
              {v}
            </text>
          </g>
        ))}
        {bars}
        {[60, 45, 30, 15, 0].map((m) => (
          <text key={m} class="axis" x={x(now - m * 60_000)} y={height - 6} text-anchor={m === 0 ? 'end' : m === 60 ? 'start' : 'middle'}>
            {m === 0 ? 'now' : `−${m}m`}
          </text>
        ))}
      </svg>
      <figcaption>
        <span class="legend">
          {SERIES.map((s) => (
            <span key={s.key} class="legend-item">
              <span class={`swatch ${s.className}`} aria-hidden="true" />
              {s.label}
            </span>
          ))}
        </span>
        <span class="muted">{summary}</span>
      </figcaption>
    </figure>
  );
}
