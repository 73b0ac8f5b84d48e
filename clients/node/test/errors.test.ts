// mapError: SQLSTATE to typed error, without a server.
import { test } from "node:test";
import assert from "node:assert/strict";

import {
  DuplicateOffsetError,
  ExtensionNotInstalledError,
  InvalidOffsetInputError,
  InvalidProjectorError,
  OffsetConflictError,
  OffsetPermissionError,
  PayloadDivergenceError,
  ProjectionOffsetError,
  mapError,
} from "../src";

function serverError(code: string, extra: Record<string, string> = {}): Error {
  // The message says nothing true on purpose: only the SQLSTATE may decide.
  return Object.assign(new Error("some translated message"), { code, ...extra });
}

test("PJ001 maps to PayloadDivergenceError, keeping detail, hint and the cause", () => {
  const cause = serverError("PJ001", { detail: "stored abc, given def", hint: "use a new event id" });
  const err = mapError(cause, "claim");
  assert.ok(err instanceof PayloadDivergenceError);
  assert.ok(err instanceof ProjectionOffsetError);
  assert.equal(err.code, "PJ001");
  assert.equal(err.detail, "stored abc, given def");
  assert.equal(err.hint, "use a new event id");
  assert.equal(err.cause, cause);
  assert.equal(err.name, "PayloadDivergenceError");
});

test("bad input SQLSTATEs map to InvalidOffsetInputError with a reason", () => {
  for (const [code, reason] of [["22004", "null"], ["22023", "empty"], ["22001", "too_long"]] as const) {
    for (const op of ["claim", "record", "apply"] as const) {
      const err = mapError(serverError(code), op);
      assert.ok(err instanceof InvalidOffsetInputError, `${code} ${op}`);
      assert.equal(err.reason, reason);
    }
  }
});

test("projector SQLSTATEs map to InvalidProjectorError only for apply", () => {
  for (const code of ["42804", "42809", "42883"]) {
    assert.ok(mapError(serverError(code), "apply") instanceof InvalidProjectorError, code);
  }
  const plain = serverError("42804");
  assert.equal(mapError(plain, "claim"), plain);
});

test("42883 raised by the parser means the extension is missing", () => {
  for (const op of ["claim", "apply"] as const) {
    const err = mapError(serverError("42883", { position: "8" }), op);
    assert.ok(err instanceof ExtensionNotInstalledError, op);
  }
  assert.ok(mapError(serverError("3F000", { position: "8" }), "claim") instanceof ExtensionNotInstalledError);
  assert.ok(mapError(serverError("42P01", { position: "13" }), "record") instanceof ExtensionNotInstalledError);
});

test("23505 is a DuplicateOffsetError for a strict record only", () => {
  assert.ok(mapError(serverError("23505"), "record") instanceof DuplicateOffsetError);
  const plain = serverError("23505");
  assert.equal(mapError(plain, "claim"), plain);
});

test("privilege, serialization and deadlock errors", () => {
  assert.ok(mapError(serverError("42501"), "apply") instanceof OffsetPermissionError);
  assert.ok(mapError(serverError("40001"), "claim") instanceof OffsetConflictError);
  assert.ok(mapError(serverError("40P01"), "claim") instanceof OffsetConflictError);
});

test("other errors pass through unchanged", () => {
  const userError = serverError("P0001");
  assert.equal(mapError(userError, "apply"), userError);
  const plain = new Error("connection terminated");
  assert.equal(mapError(plain, "claim"), plain);
  const odd = Object.assign(new Error("x"), { code: "ECONNREFUSED" });
  assert.equal(mapError(odd, "claim"), odd);
  assert.equal(mapError("not an error", "claim"), "not an error");
});
