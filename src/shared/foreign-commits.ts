import type Database from 'better-sqlite3';

/**
 * Tells an in-memory cache in front of a SQLite database when another connection (another
 * thread, the CLI, a second process) committed to it: PRAGMA data_version changes exactly then,
 * never for the connection's own commits, which the cache's owner sees and handles itself.
 */
export class ForeignCommitWatch {
  readonly #dataVersion: Database.Statement<[], number>;
  #last: number;
  /** checkOncePerTurn already asked in this event-loop turn (reset by setImmediate). */
  #checkedThisTurn = false;
  readonly #endTurn = (): void => {
    this.#checkedThisTurn = false;
  };

  constructor(db: Database.Database) {
    this.#dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
    this.#last = this.#dataVersion.get() ?? 0;
  }

  /** True when another connection committed since the previous call. */
  check(): boolean {
    const version = this.#dataVersion.get() ?? 0;
    if (version === this.#last) return false;
    this.#last = version;
    return true;
  }

  /**
   * check() for hot paths: the PRAGMA costs about as much as the lookup a cache saves, so it is
   * asked at most once per event-loop turn (false for the rest of the turn). A foreign commit is
   * then seen from the next turn on, as if it had landed a moment later.
   */
  checkOncePerTurn(): boolean {
    if (this.#checkedThisTurn) return false;
    this.#checkedThisTurn = true;
    setImmediate(this.#endTurn).unref();
    return this.check();
  }
}
