// The ProjectionOffsetStore port and its node-postgres adapter.
import type { Pool, PoolClient, Client, QueryResult, QueryResultRow } from "pg";

import { mapError, TransactionRolledBackError, type Operation } from "./errors";

/** Anything that runs a parameterised query: a pg Pool, PoolClient or Client. */
export interface Queryable {
  query<R extends QueryResultRow = any>(text: string, values?: unknown[]): Promise<QueryResult<R>>;
}

/** What the store runs on: a Pool (a connection per transaction) or one connection. */
export type Database = Pool | PoolClient | Client;

export interface ClaimOptions {
  /**
   * The payload, hashed by the server exactly as the server-side apply does
   * (SHA-256 hex of its jsonb text), so both paths agree on re-deliveries.
   */
  payload?: unknown;
  /** A payload hash computed by the application; ignored when payload is given. */
  payloadHash?: string | null;
  /**
   * The event's position in its stream: a claim at or below the handler's
   * checkpoint is a duplicate and records nothing (offset_claim_at).
   */
  position?: number | bigint;
  /**
   * The connection of an open transaction to claim in. Without it, claim()
   * and claimMany() run in a transaction of their own.
   */
  tx?: Queryable;
}

/** The outcome of applyWithOffset. */
export type ApplyResult<T> =
  | { applied: true; result: T }
  | { applied: false };

export interface ProjectionOffsetStore {
  /** Records (eventId, handlerName); true when recorded now, false for a re-delivery. */
  claim(eventId: string, handlerName: string, options?: ClaimOptions): Promise<boolean>;
  /** Records every id not yet recorded; returns the ids recorded by this call, in order. */
  claimMany(eventIds: readonly string[], handlerName: string, options?: { tx?: Queryable }): Promise<string[]>;
  /**
   * Claims the pair and runs the mutation on the same transaction; commits
   * both or neither. A re-delivery does not run the mutation.
   */
  applyWithOffset<T>(
    eventId: string,
    handlerName: string,
    mutation: (tx: Queryable) => Promise<T>,
    options?: Omit<ClaimOptions, "tx">,
  ): Promise<ApplyResult<T>>;
}

export interface PgStoreOptions {
  /** Schema the extension is installed in; default: found through search_path. */
  schema?: string;
}

export interface ServerEvent {
  eventId: string;
  payload?: unknown;
  /** The event's position in its stream (see ClaimOptions.position). */
  position?: number | bigint;
}

function quoteIdent(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}

function isPool(db: Database): db is Pool {
  // A Pool hands out connections; a Client or PoolClient has no totalCount.
  return typeof (db as Pool).connect === "function" && typeof (db as Pool).totalCount === "number";
}

/** ProjectionOffsetStore over the projection_offset extension, with node-postgres. */
export class PgProjectionOffsetStore implements ProjectionOffsetStore {
  private readonly db: Database;
  private readonly prefix: string;

  constructor(db: Database, options: PgStoreOptions = {}) {
    this.db = db;
    this.prefix = options.schema === undefined ? "" : quoteIdent(options.schema) + ".";
  }

  async claim(eventId: string, handlerName: string, options: ClaimOptions = {}): Promise<boolean> {
    const db = options.tx ?? this.db;
    if (options.position !== undefined) {
      const [hashSql, hashValue] = this.hashArgument(options, 4);
      const res = await this.run(
        db,
        "claim",
        `SELECT ${this.prefix}offset_claim_at($1::text, $2::text, $3::bigint, ${hashSql}) AS recorded`,
        [eventId, handlerName, options.position.toString(), hashValue],
      );
      return res.rows[0].recorded === true;
    }
    const [hashSql, hashValue] = this.hashArgument(options, 3);
    const res = await this.run(
      db,
      "claim",
      `SELECT ${this.prefix}offset_claim($1::text, $2::text, ${hashSql}) AS recorded`,
      [eventId, handlerName, hashValue],
    );
    return res.rows[0].recorded === true;
  }

  async claimMany(eventIds: readonly string[], handlerName: string, options: { tx?: Queryable } = {}): Promise<string[]> {
    const res = await this.run(
      options.tx ?? this.db,
      "claim",
      `SELECT id FROM ${this.prefix}offset_claim_batch($1::text[], $2::text) AS id`,
      [eventIds, handlerName],
    );
    return res.rows.map((row) => row.id as string);
  }

  /**
   * Records the pair and fails with DuplicateOffsetError when it is already
   * recorded: for callers that treat a re-delivery as a bug.
   */
  async record(eventId: string, handlerName: string, options: Omit<ClaimOptions, "position"> = {}): Promise<void> {
    const [hashSql, hashValue] = this.hashArgument(options, 3);
    await this.run(
      options.tx ?? this.db,
      "record",
      `INSERT INTO ${this.prefix}projection_offset ("eventId", "handlerName", "payloadHash")` +
        ` VALUES ($1::text, $2::text, ${hashSql})`,
      [eventId, handlerName, hashValue],
    );
  }

  async applyWithOffset<T>(
    eventId: string,
    handlerName: string,
    mutation: (tx: Queryable) => Promise<T>,
    options: Omit<ClaimOptions, "tx"> = {},
  ): Promise<ApplyResult<T>> {
    return this.transaction(async (tx) => {
      const recorded = await this.claim(eventId, handlerName, { ...options, tx });
      if (!recorded) return { applied: false };
      // The mutation's own errors pass through unchanged.
      const result = await mutation(tx);
      return { applied: true, result };
    });
  }

  /**
   * The server-side apply: apply_with_offset(event_id, handler_name,
   * projector, payload) claims and calls the projector, a SQL function
   * taking (jsonb) or (text, jsonb), in one statement. Returns false for a
   * re-delivery.
   */
  async applyOnServer(
    eventId: string,
    handlerName: string,
    projector: string,
    payload?: unknown,
    options: { tx?: Queryable } = {},
  ): Promise<boolean> {
    const res = await this.run(
      options.tx ?? this.db,
      "apply",
      `SELECT ${this.prefix}apply_with_offset($1::text, $2::text, $3::regprocedure, $4::jsonb) AS applied`,
      [eventId, handlerName, projector, payload === undefined || payload === null ? null : JSON.stringify(payload)],
    );
    return res.rows[0].applied === true;
  }

  /**
   * The server-side batch apply, apply_with_offset_batch(handler_name,
   * projector, events): one call applies every event not yet recorded, in
   * order; returns how many it applied. An event with a position at or
   * below the handler's checkpoint is a duplicate.
   */
  async applyManyOnServer(
    handlerName: string,
    projector: string,
    events: readonly ServerEvent[],
    options: { tx?: Queryable } = {},
  ): Promise<number> {
    // Written by hand so that a bigint position keeps all its digits as a
    // JSON number (JSON.stringify has no form for a bigint).
    const json = `[${events
      .map((e) => {
        const fields = [`"event_id":${JSON.stringify(e.eventId)}`, `"payload":${JSON.stringify(e.payload ?? null)}`];
        if (e.position !== undefined) {
          fields.push(`"position":${typeof e.position === "bigint" ? e.position.toString() : JSON.stringify(e.position)}`);
        }
        return `{${fields.join(",")}}`;
      })
      .join(",")}]`;
    const res = await this.run(
      options.tx ?? this.db,
      "apply",
      `SELECT ${this.prefix}apply_with_offset_batch($1::text, $2::regprocedure, $3::jsonb) AS applied`,
      [handlerName, projector, json],
    );
    return Number(res.rows[0].applied);
  }

  /**
   * Runs fn in a transaction on one connection: COMMIT when it resolves,
   * ROLLBACK when it rejects (the rejection is rethrown).
   */
  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const pooled = isPool(this.db);
    const client: Queryable = pooled ? await (this.db as Pool).connect() : this.db;
    let broken: Error | undefined;
    try {
      await this.run(client, "claim", "BEGIN", []);
      let result: T;
      try {
        result = await fn(client);
      } catch (err) {
        // The error of fn is rethrown as it is; errors of the client's own
        // statements inside fn were mapped already.
        try {
          await client.query("ROLLBACK");
        } catch (rollbackErr) {
          broken = rollbackErr as Error;
        }
        throw err;
      }
      const commit = await this.run(client, "claim", "COMMIT", []);
      if (commit.command === "ROLLBACK") {
        // A statement inside fn failed and fn went on: the server rolled the
        // transaction back instead of committing it.
        throw new TransactionRolledBackError(
          "the transaction was rolled back: a statement in it failed",
          "25P02",
        );
      }
      return result;
    } finally {
      // A connection whose ROLLBACK failed is not handed out again.
      if (pooled) (client as PoolClient).release(broken);
    }
  }

  /** The SQL of the payload-hash argument, bound as parameter $n, and its value. */
  private hashArgument(options: ClaimOptions, n: number): [string, string | null] {
    if (options.payload !== undefined && options.payload !== null) {
      return [`encode(pg_catalog.sha256(convert_to(($${n}::jsonb)::text, 'UTF8')), 'hex')`, JSON.stringify(options.payload)];
    }
    return [`$${n}::text`, options.payloadHash ?? null];
  }

  private async run(db: Queryable, operation: Operation, sql: string, values: unknown[]): Promise<QueryResult> {
    try {
      return await db.query(sql, values);
    } catch (err) {
      throw mapError(err, operation);
    }
  }
}
