/**
 * Artifact and cache storage on the server: opaque blobs, each one file, named by a
 * random id the store makes. What a blob is for (which job's artifacts, which cache
 * key) lives in the database; the store knows nothing of builds.
 *
 * Contract:
 *  - put(source, { maxBytes }) streams into a temp file, syncs it, then renames it into
 *    place: a blob is complete or absent, never half written. Past maxBytes the upload
 *    stops with PAYLOAD_TOO_LARGE and the temp file is deleted; any other failure deletes it too.
 *    It resolves with the id, the size and the SHA-256 of the content.
 *  - Every id passed in is checked (32 lowercase hex) before any filesystem use; others
 *    are refused with USAGE. Missing blobs are null, never errors.
 *  - delete is idempotent. open streams may outlive a delete (the file is unlinked, the
 *    open descriptor keeps reading).
 *  - list() walks every blob, for garbage collection of blobs no row references. A
 *    blob is written before its row is committed: collect only blobs older than the
 *    longest upload-to-commit time (use modifiedAtMs).
 *  - Uploaded archives are untrusted: verifyArchive(id) runs the archive checks and
 *    returns the problem as a value for the caller to refuse the upload; listArchive
 *    and readArchiveEntry serve a listing and one file of a stored archive.
 *  - All methods may run concurrently; one store per directory.
 */
export { openBlobStore, type BlobInfo, type BlobStore, type BlobStoreOptions } from './store.js';
export { isBlobId } from './ids.js';
