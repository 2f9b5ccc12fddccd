/**
 * One error type for the whole of Slipway: a stable code a program can branch on,
 * a message a person can act on, and the cause kept. Expected outcomes (a failed
 * step, "no job to claim") are values, not SlipwayErrors.
 */
export const ErrorCode = {
  PIPELINE_INVALID: 'PIPELINE_INVALID',
  PIPELINE_NOT_FOUND: 'PIPELINE_NOT_FOUND',
  CONFIG_INVALID: 'CONFIG_INVALID',
  GIT_FAILED: 'GIT_FAILED',
  WORKSPACE_FAILED: 'WORKSPACE_FAILED',
  ARCHIVE_INVALID: 'ARCHIVE_INVALID',
  CACHE_FAILED: 'CACHE_FAILED',
  USAGE: 'USAGE',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  /** It existed, and retention deleted it (an expired job log). */
  GONE: 'GONE',
  /** An upload past the configured limit; nothing of it was kept. */
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  AGENT_UNAUTHORIZED: 'AGENT_UNAUTHORIZED',
  ENGINE_UNAVAILABLE: 'ENGINE_UNAVAILABLE',
  INTERNAL: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** HTTP status for each code: the single table the API uses. */
export const httpStatusOf: Record<ErrorCode, number> = {
  PIPELINE_INVALID: 422,
  PIPELINE_NOT_FOUND: 404,
  CONFIG_INVALID: 400,
  GIT_FAILED: 502,
  WORKSPACE_FAILED: 500,
  ARCHIVE_INVALID: 400,
  CACHE_FAILED: 500,
  USAGE: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  GONE: 410,
  PAYLOAD_TOO_LARGE: 413,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  AGENT_UNAUTHORIZED: 401,
  ENGINE_UNAVAILABLE: 503,
  INTERNAL: 500,
};

export class SlipwayError extends Error {
  readonly code: ErrorCode;
  /** Extra facts a caller may show (for PIPELINE_INVALID: the positioned diagnostics). */
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SlipwayError';
    this.code = code;
    this.details = options.details;
  }
}

export function isSlipwayError(error: unknown, code?: ErrorCode): error is SlipwayError {
  return error instanceof SlipwayError && (code === undefined || error.code === code);
}

/** The message of anything thrown, for wrapping with context. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
