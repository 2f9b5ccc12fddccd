/** The slice of a pino logger the store uses; pass a child logger (`logger.child({ component: 'store' })`). */
export type StoreLogger = {
  info(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
};

/** Without a logger, problems still reach stderr: a lost connection is never silent. */
export const stderrLogger: StoreLogger = {
  info() {},
  error(fields, message) {
    console.error(`slipway store: ${message}`, fields);
  },
};
