import pg from 'pg';

/** The advisory lock class of durable leases ("box" + 3; the outbox's locks are + 1 and + 2). */
export const LEASE_LOCK_CLASS = 0x626f78_03;
/** How often a process without the lease tries to take it. */
const RETRY_MS = 1000;

/**
 * Who reads one JetStream durable: JetStream hands a durable's messages to every process that pulls,
 * in parallel, which would break order per key. The reader holds a session advisory lock in PostgreSQL
 * named after the durable, on a connection of its own; the others stand by and take over when that
 * session ends (a graceful stop unlocks, a `kill -9` or a terminated backend ends the session). The
 * session's backend pid is checked before each pull, so a connection that was lost counts as lost.
 * The connection is node-postgres's: postgres.js 3.4 can throw from its socket code when a reserved
 * connection's backend is terminated (docs/drops.md), and this one is terminated by design.
 */
export class DurableLease {
  #client: pg.Client | undefined;
  #pid: number | undefined;
  #nextTry = 0;

  constructor(
    private readonly databaseUrl: string,
    private readonly name: string,
  ) {}

  /** Whether this process holds the lease now; takes it when free (never waits for it). */
  async hold(): Promise<boolean> {
    const held = this.#client;
    if (held) {
      try {
        const { rows } = await held.query<{ pid: number }>('select pg_backend_pid() as pid');
        if (rows[0]?.pid === this.#pid) return true;
      } catch {
        // the session is gone, and its lock with it
      }
      this.#forget(held);
      return false;
    }
    if (Date.now() < this.#nextTry) return false;
    this.#nextTry = Date.now() + RETRY_MS;
    const client = new pg.Client({
      connectionString: this.databaseUrl,
      application_name: `boxoffice:lease:${process.pid}`,
    });
    client.on('error', () => this.#forget(client));
    try {
      await client.connect();
      const { rows } = await client.query<{ ok: boolean; pid: number }>(
        'select pg_try_advisory_lock($1, hashtext($2)) as ok, pg_backend_pid() as pid',
        [LEASE_LOCK_CLASS, this.name],
      );
      if (rows[0]?.ok) {
        this.#client = client;
        this.#pid = rows[0].pid;
        return true;
      }
    } catch {
      // no database now: try again later
    }
    await client.end().catch(() => {});
    return false;
  }

  /** Gives the lease up (a standby takes over within a second). */
  async release(): Promise<void> {
    const client = this.#client;
    if (!client) return;
    this.#client = undefined;
    // Ending the session releases its locks.
    await client.end().catch(() => {});
  }

  #forget(client: pg.Client): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    this.#pid = undefined;
    void client.end().catch(() => {});
  }
}
