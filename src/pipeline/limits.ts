/**
 * Caps that make a hostile or runaway pipeline file fail fast with a clear message
 * instead of using the server's memory and CPU. Each is documented in docs/pipeline.md.
 */
export const limits = {
  /** A real pipeline file is a few KiB; 1 MiB leaves room for generated files. */
  fileBytes: 1024 * 1024,
  /** Scalars, collections and aliases in the file as written (before aliases are resolved). */
  yamlValues: 100_000,
  /** Nesting of mappings and lists; real files stay under 10. */
  depth: 64,
  /** Values produced by resolving aliases and merge keys: stops "billion laughs" files. */
  aliasExpansions: 10_000,
  /** Values validated after `extends` copied templates into jobs. */
  expandedValues: 200_000,
  /** Jobs after `parallel` and `parallel: matrix` expansion. */
  jobs: 1000,
  /** Jobs one `parallel: N` or `parallel: matrix` produces. */
  jobsPerParallel: 200,
  /** Levels of `extends` (a job extending a template extending a template...). */
  extendsDepth: 10,
  /** Characters of one `rules: if:` expression. */
  expressionLength: 4096,
  /** Parentheses nested in one `rules: if:` expression. */
  expressionDepth: 32,
  /** Problems reported for one file; past this the file is mostly noise. */
  diagnostics: 200,
} as const;
