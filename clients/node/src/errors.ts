// Typed errors of the projection_offset client, chosen by SQLSTATE only:
// PostgreSQL's message texts are translated and may change, SQLSTATEs do not.

/** The fields node-postgres gives a server error (a DatabaseError). */
export interface PgErrorFields {
  code?: string;
  detail?: string;
  hint?: string;
  position?: string;
  internalPosition?: string;
  where?: string;
  schema?: string;
  table?: string;
  constraint?: string;
}

/** Base class: every error this client raises from a server error. */
export class ProjectionOffsetError extends Error {
  /** The SQLSTATE of the server error. */
  readonly code: string;
  readonly detail?: string;
  readonly hint?: string;
  /** The server error, unchanged. */
  override readonly cause: unknown;

  constructor(message: string, code: string, cause?: unknown) {
    super(message);
    this.name = new.target.name;
    this.code = code;
    this.cause = cause;
    const fields = (cause ?? {}) as PgErrorFields;
    this.detail = fields.detail;
    this.hint = fields.hint;
  }
}

/**
 * SQLSTATE PJ001: the event id is already recorded for this handler with a
 * different payload hash (an event id reused for another payload).
 */
export class PayloadDivergenceError extends ProjectionOffsetError {}

/** Why an event id, handler name or payload hash was refused. */
export type InvalidInputReason = "null" | "empty" | "too_long";

/**
 * SQLSTATE 22004 (a NULL), 22023 (an empty value or a multi-dimensional
 * array) or 22001 (an event id over 1024 bytes or a handler name over 256
 * bytes). Nothing was recorded.
 */
export class InvalidOffsetInputError extends ProjectionOffsetError {
  readonly reason: InvalidInputReason;

  constructor(message: string, code: string, cause?: unknown) {
    super(message, code, cause);
    this.reason = code === "22004" ? "null" : code === "22001" ? "too_long" : "empty";
  }
}

/**
 * SQLSTATE 42804 (wrong argument types), 42809 (a procedure, aggregate,
 * window or set-returning function) or 42883 (no such function) for the
 * projector given to the server-side apply.
 */
export class InvalidProjectorError extends ProjectionOffsetError {}

/** SQLSTATE 42501: no EXECUTE on the projector or no rights on the table. */
export class OffsetPermissionError extends ProjectionOffsetError {}

/**
 * SQLSTATE 23505 from a strict record(): the pair is already recorded.
 * claim() and applyWithOffset() report a re-delivery as a result instead.
 */
export class DuplicateOffsetError extends ProjectionOffsetError {}

/**
 * SQLSTATE 40001 or 40P01: a serialization failure or deadlock; the
 * transaction rolled back and may be retried as a whole.
 */
export class OffsetConflictError extends ProjectionOffsetError {}

/**
 * SQLSTATE 42883, 42P01 or 3F000 raised while parsing the client's own
 * statement: the extension is not installed in the schema the client uses.
 */
export class ExtensionNotInstalledError extends ProjectionOffsetError {}

/**
 * SQLSTATE 25P02: COMMIT found the transaction aborted by an earlier failed
 * statement (one whose error the mutation caught), so nothing was committed.
 */
export class TransactionRolledBackError extends ProjectionOffsetError {}

/** Which statement of the client failed; decides what 42883 means. */
export type Operation = "claim" | "record" | "apply";

function isServerError(err: unknown): err is Error & PgErrorFields {
  return (
    err instanceof Error &&
    typeof (err as PgErrorFields).code === "string" &&
    /^[0-9A-Z]{5}$/.test((err as PgErrorFields).code as string)
  );
}

/**
 * Maps a server error of one of the client's statements to a typed error by
 * its SQLSTATE; returns anything else unchanged.
 */
export function mapError(err: unknown, operation: Operation): unknown {
  if (!isServerError(err) || err instanceof ProjectionOffsetError) return err;
  const code = err.code as string;
  const message = err.message;
  // An error the parser raised points into the statement text: the client's
  // statement itself names something missing. Errors raised while running
  // (the extension's checks, the projector lookup) carry no position.
  const atParse = err.position !== undefined;
  switch (code) {
    case "PJ001":
      return new PayloadDivergenceError(message, code, err);
    case "22004":
    case "22023":
    case "22001":
      return new InvalidOffsetInputError(message, code, err);
    case "42883":
      if (atParse) return new ExtensionNotInstalledError(message, code, err);
      return operation === "apply" ? new InvalidProjectorError(message, code, err) : err;
    case "42P01":
    case "3F000":
      return atParse || code === "3F000" ? new ExtensionNotInstalledError(message, code, err) : err;
    case "42804":
    case "42809":
      return operation === "apply" ? new InvalidProjectorError(message, code, err) : err;
    case "42501":
      return new OffsetPermissionError(message, code, err);
    case "23505":
      return operation === "record" ? new DuplicateOffsetError(message, code, err) : err;
    case "40001":
    case "40P01":
      return new OffsetConflictError(message, code, err);
    default:
      return err;
  }
}
