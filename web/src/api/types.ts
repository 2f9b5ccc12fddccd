/** The server's answers, as the UI reads them (docs/api.md has the whole shapes). */

export type Page<T> = { items: T[]; nextCursor: string | null };

export type Project = {
  id: number;
  name: string;
  repositoryUrl: string;
  defaultBranch: string;
  pipelinePath: string;
  variables: Record<string, string>;
  createdAt: number;
  updatedAt: number;
};

export type JobFailure = { kind: string; message: string; exitCode?: number };

export type Job = {
  id: number;
  buildId: number;
  name: string;
  stage: string;
  status: string;
  when: string;
  needs: string[] | null;
  labels: string[];
  failureAllowed: boolean;
  failure: JobFailure | null;
  attempts: number;
  queuedAt: number | null;
  startedAt: number | null;
  finishedAt: number | null;
  createdAt: number;
};

export type PipelineError = { file: string; line: number; column: number; message: string };

export type Build = {
  id: number;
  projectId: number;
  project: string;
  number: number;
  status: string;
  ref: string;
  commitSha: string;
  commitMessage: string | null;
  commitAuthor: string | null;
  source: string;
  variables: Record<string, string>;
  errors: PipelineError[] | null;
  reason: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
};

export type BuildWithJobs = Build & { jobs: Job[] };

export type LogPage = { attempt: number; text: string; nextOffset: number; size: number; complete: boolean };

export type ArtifactEntry = { path: string; type: string; size: number; mode: number; linkTarget: string | null };
export type ArtifactList = { artifact: unknown; entries: ArtifactEntry[] };

export type Token = { id: number; name: string; scopes: string[]; createdAt: number; expiresAt: number | null; revokedAt: number | null; lastUsedAt?: number | null };
export type Secret = { name: string; updatedAt: number };

export type AgentJob = { jobId: number; jobName: string; buildId: number; buildNumber: number; project: string };
export type Agent = {
  id: number | null;
  name: string;
  engine: string | null;
  template: string | null;
  image?: string | null;
  state: string;
  labels: string[];
  capacity: { cpus: number; memoryMiB: number };
  version?: string | null;
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

export type Me = { name: string; scopes: string[] };

export type ServerEvent = { id: number; type: string; projectId: number | null; payload: Record<string, unknown>; createdAt: number };
