/**
 * Images in scheduling. When some engine runs images (a container engine), a job that
 * names an image runs only in an agent running that image, and a job that names none
 * runs in an agent of a template's own image (or in an agent without image: local,
 * registered). When no engine runs images (local only), images are ignored: a job's
 * `image:` says where it would run, and there is nowhere else.
 */

/**
 * Whether images are honoured: some engine runs them (one of its templates names an image,
 * or it has an image template). Matching and provisioning must agree on it, or a job is
 * launched for an agent that matching then never gives it to.
 */
export function runsImages(engines: ReadonlyArray<{ templates: ReadonlyArray<{ image: string | null }>; imageTemplate?: { image: string | null } | null }>): boolean {
  return engines.some((engine) => (engine.imageTemplate ?? null) !== null || engine.templates.some((template) => template.image !== null));
}

/** What an agent runs in, as matching sees it. */
export type AgentImage = {
  /** The image its container runs; null: no container (local or registered agent). */
  image: string | null;
  /** Launched with a job's image instead of its template's: it takes only jobs naming that image. */
  pinned: boolean;
};

/** Whether an agent running `agent` may take a job naming `jobImage` (null: none). */
export function imageAccepts(agent: AgentImage, jobImage: string | null): boolean {
  return jobImage === null ? !agent.pinned : agent.image === jobImage;
}

/**
 * The image to launch a template with for a job: null for its own image, the job's image
 * when it replaces the template's, undefined when the template cannot run the job (it runs
 * no images, and the job names one).
 */
export function launchImage(templateImage: string | null, jobImage: string | null): string | null | undefined {
  if (jobImage === null || jobImage === templateImage) return null;
  return templateImage === null ? undefined : jobImage;
}
