import type { Selectable, Updateable } from 'kysely';
import { SlipwayError } from '../errors/index.js';
import { expectingViolations } from './constraints.js';
import { touched, type StoreContext } from './context.js';
import type { ProjectsTable } from './database.js';
import { decodeCursor, pageLimit, toPage, type Page, type PageRequest } from './pagination.js';
import { fromJson, toJson } from './values.js';

export type Project = {
  id: number;
  /** `[a-z0-9][a-z0-9._-]*`, unique. */
  name: string;
  repositoryUrl: string;
  defaultBranch: string;
  /** Path of the pipeline file in the repository. */
  pipelinePath: string;
  variables: Record<string, string>;
  /** Most jobs of this project running at once; null: no limit. */
  concurrencyLimit: number | null;
  /** Higher runs first. */
  priority: number;
  /** Poll the repository this often; null: no polling. */
  pollIntervalSeconds: number | null;
  lastPolledCommit: string | null;
  createdAt: number;
  updatedAt: number;
};

export type NewProject = {
  name: string;
  repositoryUrl: string;
  /** 'main' when left out. */
  defaultBranch?: string;
  /** '.slipway.yml' when left out. */
  pipelinePath?: string;
  variables?: Record<string, string>;
  concurrencyLimit?: number | null;
  priority?: number;
  pollIntervalSeconds?: number | null;
};

export type ProjectPatch = Partial<Omit<Project, 'id' | 'createdAt' | 'updatedAt'>>;

export type Projects = {
  /** Throws CONFLICT when the name is taken, USAGE when it is not a valid project name. */
  create(input: NewProject): Promise<Project>;
  get(id: number): Promise<Project | null>;
  /** Throws NOT_FOUND. */
  getOrThrow(id: number): Promise<Project>;
  getByName(name: string): Promise<Project | null>;
  /** By name. */
  list(page?: PageRequest): Promise<Page<Project>>;
  /** Projects with polling on, for the poller. */
  listPolled(): Promise<Project[]>;
  /** Changes only the fields given; null when there is no such project. Throws CONFLICT on a rename to a taken name. */
  update(id: number, patch: ProjectPatch): Promise<Project | null>;
  /** Deletes the project with its secrets, schedules, builds, jobs, attempts, artifacts and caches rows. */
  delete(id: number): Promise<boolean>;
};

const namePattern = /^[a-z0-9][a-z0-9._-]*$/;

function checkName(name: string): void {
  if (!namePattern.test(name) || name.length > 100) {
    throw new SlipwayError(
      'USAGE',
      `invalid project name "${name}": use lowercase letters, digits, '.', '_' and '-', starting with a letter or digit, at most 100 characters`,
    );
  }
}

function conflictMessage(name: string): string {
  return `a project named "${name}" already exists; choose another name`;
}

function toProject(row: Selectable<ProjectsTable>): Project {
  return {
    id: row.id,
    name: row.name,
    repositoryUrl: row.repository_url,
    defaultBranch: row.default_branch,
    pipelinePath: row.pipeline_path,
    variables: fromJson(row.variables, 'projects.variables'),
    concurrencyLimit: row.concurrency_limit,
    priority: row.priority,
    pollIntervalSeconds: row.poll_interval_seconds,
    lastPolledCommit: row.last_polled_commit,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function projects(ctx: StoreContext): Projects {
  const { db } = ctx;
  const ops: Projects = {
    async create(input) {
      checkName(input.name);
      const now = ctx.now();
      const row = await expectingViolations(
        () =>
          db
            .insertInto('projects')
            .values({
              name: input.name,
              repository_url: input.repositoryUrl,
              default_branch: input.defaultBranch ?? 'main',
              pipeline_path: input.pipelinePath ?? '.slipway.yml',
              variables: toJson(input.variables ?? {}),
              concurrency_limit: input.concurrencyLimit ?? null,
              priority: input.priority ?? 0,
              poll_interval_seconds: input.pollIntervalSeconds ?? null,
              last_polled_commit: null,
              created_at: now,
              updated_at: now,
            })
            .returningAll()
            .executeTakeFirstOrThrow(),
        { unique: conflictMessage(input.name) },
      );
      return toProject(row);
    },

    async get(id) {
      const row = await db.selectFrom('projects').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? null : toProject(row);
    },

    async getOrThrow(id) {
      const project = await ops.get(id);
      if (project === null) throw new SlipwayError('NOT_FOUND', `project ${id} does not exist`);
      return project;
    },

    async getByName(name) {
      const row = await db.selectFrom('projects').selectAll().where('name', '=', name).executeTakeFirst();
      return row === undefined ? null : toProject(row);
    },

    async list(page = {}) {
      const limit = pageLimit(page);
      const after = decodeCursor('projects', page.cursor, 'string');
      let query = db.selectFrom('projects').selectAll().orderBy('name').limit(limit + 1);
      if (after !== null) query = query.where('name', '>', after);
      return toPage(await query.execute(), limit, 'projects', (row) => row.name, toProject);
    },

    async listPolled() {
      const rows = await db
        .selectFrom('projects')
        .selectAll()
        .where('poll_interval_seconds', 'is not', null)
        .orderBy('id')
        .execute();
      return rows.map(toProject);
    },

    async update(id, patch) {
      if (patch.name !== undefined) checkName(patch.name);
      const set: Updateable<ProjectsTable> = { updated_at: ctx.now() };
      if (patch.name !== undefined) set.name = patch.name;
      if (patch.repositoryUrl !== undefined) set.repository_url = patch.repositoryUrl;
      if (patch.defaultBranch !== undefined) set.default_branch = patch.defaultBranch;
      if (patch.pipelinePath !== undefined) set.pipeline_path = patch.pipelinePath;
      if (patch.variables !== undefined) set.variables = toJson(patch.variables);
      if (patch.concurrencyLimit !== undefined) set.concurrency_limit = patch.concurrencyLimit;
      if (patch.priority !== undefined) set.priority = patch.priority;
      if (patch.pollIntervalSeconds !== undefined) set.poll_interval_seconds = patch.pollIntervalSeconds;
      if (patch.lastPolledCommit !== undefined) set.last_polled_commit = patch.lastPolledCommit;
      const row = await expectingViolations(
        () => db.updateTable('projects').set(set).where('id', '=', id).returningAll().executeTakeFirst(),
        { unique: conflictMessage(patch.name ?? '') },
      );
      return row === undefined ? null : toProject(row);
    },

    async delete(id) {
      return touched(await db.deleteFrom('projects').where('id', '=', id).executeTakeFirst());
    },
  };
  return ops;
}
