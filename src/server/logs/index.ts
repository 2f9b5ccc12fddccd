/**
 * Job logs on the server: each attempt's log as it streams in from an agent, stored as
 * the text users see, durable before it is acknowledged.
 *
 * Contract:
 *  - append(key, chunks) stores chunks in seq order (1, 2, 3… per attempt). A chunk whose
 *    seq is already stored is ignored (an agent resends what was not acknowledged after
 *    a reconnect); a chunk that skips ahead is a gap: what came before it is stored, the
 *    rest is not, and append rejects with CONFLICT (details: expectedSeq, gotSeq,
 *    ackedSeq). Chunks of a batch are taken in the order given.
 *  - append resolves once what it stored is durable (fdatasync of the log and its
 *    index), with ackedSeq the highest seq durably stored. Nothing acknowledged is lost
 *    or stored twice, whether this process or the agent restarts. An event that adds no
 *    text but shares the sequence (a state change) is a data chunk with data ''.
 *  - Appends to many attempts, and several appends to one attempt, may run
 *    concurrently: one attempt's appends are applied one at a time, in call order, and
 *    all attempts share group commits (one sync per dirty file every few ms, or sooner
 *    when megabytes are pending). append waits while too much is unsynced.
 *  - prepare(key) creates an attempt's files ahead of its first append (which then only
 *    writes and syncs data): the server calls it as it assigns the attempt. Optional and
 *    idempotent; the log's base time is then the time of prepare.
 *  - complete(key) durably marks the log finished (idempotent). After it, an append
 *    with new chunks rejects with CONFLICT; one of duplicates only is acknowledged.
 *  - Readers (read, follow, size, lastSeq) see only what is durable. read never splits
 *    a UTF-8 character: the end moves back to a character boundary, an offset inside a
 *    character moves forward to the next one, and a limit smaller than the character at
 *    offset returns that character. follow yields text from offset as it becomes
 *    durable and ends when the log is complete, the signal aborts, the job's logs are
 *    removed or the store closes.
 *  - remove(jobId) deletes every attempt's log of the job and resolves with the bytes
 *    removed; call it when no append to the job is in flight (retention: the caller
 *    decides when).
 *  - One LogStore per directory, in one process. close() commits what was written and
 *    closes the files; call it after the last append has resolved.
 *
 * On disk: `<dir>/<jobId>/<attempt>.log` is the text (section markers inline, GitLab's
 * format, see chunk.ts) and `<attempt>.idx` says how much of it is durable (see
 * index-file.ts); reopening after a crash cuts any torn tail.
 */
export { openLogStore, DEFAULT_READ_BYTES, type LogStore, type LogStoreOptions, type LogRead } from './store.js';
export type { LogChunk, LogKey, LogSection, LogStream } from './chunk.js';
