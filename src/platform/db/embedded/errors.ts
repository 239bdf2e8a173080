/**
 * A failure of the embedded PostgreSQL that the operator can act on. Its message is one line:
 * what went wrong and what to set instead; the CLI prints it as it is.
 */
export class EmbeddedPostgresError extends Error {
  override name = 'EmbeddedPostgresError';
}
