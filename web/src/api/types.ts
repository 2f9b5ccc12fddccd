/**
 * The server's answers, as the UI reads them (docs/api.md has the whole shapes). Where the
 * server has a response schema, the type comes from it: type-only imports, erased from the
 * bundle, so the UI and the API cannot drift apart.
 */
import type { z } from 'zod';
import type { ApiProject, buildView, jobView, token } from '../../../src/server/http/schemas.js';

export type Page<T> = { items: T[]; nextCursor: string | null };

export type Project = ApiProject;
export type Job = z.infer<typeof jobView>;
export type Build = z.infer<typeof buildView>;

export type BuildWithJobs = Build & { jobs: Job[] };

export type LogPage = { attempt: number; text: string; nextOffset: number; size: number; complete: boolean };

export type ArtifactEntry = { path: string; type: string; size: number; mode: number; linkTarget: string | null };
export type ArtifactList = { artifact: unknown; entries: ArtifactEntry[] };

export type Token = z.infer<typeof token>;
export type Secret = { name: string; updatedAt: number };

export type AgentJob = { jobId: number; jobName: string; buildId: number; buildNumber: number; project: string };
export type Agent = {
  id: number | null;
  name: string;
  engine: string | null;
  template: string | null;
  image: string | null;
  state: string;
  labels: string[];
  capacity: { cpus: number; memoryMiB: number };
  version: string | null;
  connectedAt: number | null;
  jobs: AgentJob[];
};

export type CapacitySample = { at: number; busy: number; idle: number; provisioning: number; cpusInUse?: number; memoryMiBInUse?: number };
export type AgentCounts = { engine: string | null; template: string | null; busy: number; idle: number; provisioning: number; unreachable: number };
export type Stats = {
  queue: { length: number; oldestWaitMs: number | null; waitP50Ms: number | null; waitP90Ms: number | null };
  agents: AgentCounts[];
  capacity: CapacitySample[];
};

export type { ServerEvent } from '../../../src/server/events/types.js';
