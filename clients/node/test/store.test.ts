// PgProjectionOffsetStore against a server with the extension installed
// (connection from PGHOST, PGPORT, PGUSER, PGDATABASE).
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Client, Pool } from "pg";

import {
  DuplicateOffsetError,
  ExtensionNotInstalledError,
  InvalidOffsetInputError,
  InvalidProjectorError,
  PayloadDivergenceError,
  PgProjectionOffsetStore,
  TransactionRolledBackError,
  type Queryable,
} from "../src";

const schema = `node_client_${process.pid}`;
const pool = new Pool({ max: 4 });
const store = new PgProjectionOffsetStore(pool);
let handlerSeq = 0;
let handler = "";

async function total(order: string): Promise<number> {
  const res = await pool.query(`SELECT total FROM ${schema}.order_totals WHERE order_id = $1`, [order]);
  return Number(res.rows[0]?.total ?? 0);
}

async function positions(h: string): Promise<Array<{ eventId: string; position: string }>> {
  const res = await pool.query(
    `SELECT "eventId", "position"::text AS position FROM projection_offset_position WHERE "handlerName" = $1 ORDER BY "eventId"`,
    [h],
  );
  return res.rows;
}

async function offsets(h: string): Promise<Array<{ eventId: string; payloadHash: string | null }>> {
  const res = await pool.query(
    `SELECT "eventId", "payloadHash" FROM projection_offset WHERE "handlerName" = $1 ORDER BY "eventId"`,
    [h],
  );
  return res.rows;
}

function addTo(order: string, amount: number) {
  return async (tx: Queryable) => {
    await tx.query(`UPDATE ${schema}.order_totals SET total = total + $2 WHERE order_id = $1`, [order, amount]);
    return amount;
  };
}

before(async () => {
  await pool.query(`
    CREATE SCHEMA ${schema};
    CREATE TABLE ${schema}.order_totals (order_id text PRIMARY KEY, total bigint NOT NULL DEFAULT 0);
    INSERT INTO ${schema}.order_totals (order_id) SELECT 'o-' || g FROM generate_series(1, 20) g;
    CREATE FUNCTION ${schema}.project_order(event_id text, payload jsonb) RETURNS void LANGUAGE sql AS $$
      UPDATE ${schema}.order_totals SET total = total + (payload->>'amount')::bigint
       WHERE order_id = payload->>'order';
    $$;
    CREATE FUNCTION ${schema}.project_fail(payload jsonb) RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE ${schema}.order_totals SET total = total + 1000 WHERE order_id = 'o-1';
      RAISE EXCEPTION 'projector refused' USING ERRCODE = 'P0042';
    END $$;
    CREATE PROCEDURE ${schema}.not_a_function(payload jsonb) LANGUAGE sql AS $$ SELECT 1 $$;
    CREATE FUNCTION ${schema}.wrong_args(n int) RETURNS void LANGUAGE sql AS $$ SELECT $$;
  `);
});

after(async () => {
  await pool.query(`DROP SCHEMA ${schema} CASCADE`);
  await pool.query(`DELETE FROM projection_offset WHERE "handlerName" LIKE $1`, [`${schema}:%`]);
  await pool.query(`DELETE FROM projection_offset_position WHERE "handlerName" LIKE $1`, [`${schema}:%`]);
  await pool.query(`DELETE FROM projection_offset_checkpoint WHERE "handlerName" LIKE $1`, [`${schema}:%`]);
  await pool.end();
});

beforeEach(() => {
  handler = `${schema}:handler-${++handlerSeq}`;
});

describe("claim", () => {
  test("records once: true, then false for every re-delivery", async () => {
    assert.equal(await store.claim("evt-1", handler), true);
    for (let i = 0; i < 4; i++) assert.equal(await store.claim("evt-1", handler), false);
    assert.deepEqual(await offsets(handler), [{ eventId: "evt-1", payloadHash: null }]);
  });

  test("two handlers keep independent offsets", async () => {
    const other = `${handler}-other`;
    assert.equal(await store.claim("evt-1", handler), true);
    assert.equal(await store.claim("evt-1", other), true);
    assert.equal(await store.claim("evt-1", other), false);
    assert.equal((await offsets(other)).length, 1);
  });

  test("a different payload hash under the same event id is a PayloadDivergenceError", async () => {
    assert.equal(await store.claim("evt-1", handler, { payloadHash: "aaa" }), true);
    assert.equal(await store.claim("evt-1", handler, { payloadHash: "aaa" }), false);
    assert.equal(await store.claim("evt-1", handler), false);
    await assert.rejects(store.claim("evt-1", handler, { payloadHash: "bbb" }), (err: unknown) => {
      assert.ok(err instanceof PayloadDivergenceError);
      assert.equal(err.code, "PJ001");
      return true;
    });
  });

  test("a payload is hashed by the server as apply_with_offset hashes it", async () => {
    assert.equal(await store.claim("evt-1", handler, { payload: { b: 2, a: 1 } }), true);
    const [row] = await offsets(handler);
    const expected = await pool.query(
      `SELECT encode(sha256(convert_to('{"a": 1, "b": 2}'::jsonb::text, 'UTF8')), 'hex') AS h`,
    );
    assert.equal(row.payloadHash, expected.rows[0].h);
    // Key order and white space do not matter; a different value does.
    assert.equal(await store.claim("evt-1", handler, { payload: { a: 1, b: 2 } }), false);
    await assert.rejects(store.claim("evt-1", handler, { payload: { a: 1, b: 3 } }), PayloadDivergenceError);
  });

  test("bad input is an InvalidOffsetInputError and records nothing", async () => {
    const cases: Array<[() => Promise<unknown>, string]> = [
      [() => store.claim("", handler), "empty"],
      [() => store.claim("evt-1", ""), "empty"],
      [() => store.claim("x".repeat(1025), handler), "too_long"],
      [() => store.claim("evt-1", "h".repeat(257)), "too_long"],
      [() => store.claim(null as unknown as string, handler), "null"],
      [() => store.claim("evt-1", handler, { payloadHash: "" }), "empty"],
    ];
    for (const [call, reason] of cases) {
      await assert.rejects(call(), (err: unknown) => {
        assert.ok(err instanceof InvalidOffsetInputError, String(err));
        assert.equal(err.reason, reason);
        return true;
      });
    }
    assert.deepEqual(await offsets(handler), []);
  });

  test("with a position, a claim at or below the checkpoint is a duplicate that records nothing", async () => {
    await pool.query("SELECT offset_checkpoint($1, $2)", [handler, 100]);
    assert.equal(await store.claim("evt-50", handler, { position: 50 }), false);
    assert.equal(await store.claim("evt-100", handler, { position: 100n }), false);
    assert.deepEqual(await offsets(handler), []);
    assert.equal(await store.claim("evt-101", handler, { position: 101, payloadHash: "aaa" }), true);
    assert.equal(await store.claim("evt-101", handler, { position: 101, payloadHash: "aaa" }), false);
    await assert.rejects(store.claim("evt-101", handler, { position: 101, payloadHash: "bbb" }), PayloadDivergenceError);
    // A bigint position beyond Number.MAX_SAFE_INTEGER keeps all its digits.
    assert.equal(await store.claim("evt-big", handler, { position: 9007199254740993n, payload: { a: 1 } }), true);
    assert.deepEqual(await positions(handler), [
      { eventId: "evt-101", position: "101" },
      { eventId: "evt-big", position: "9007199254740993" },
    ]);
  });

  test("in the caller's transaction, a rollback releases the claim", async () => {
    const client = await pool.connect();
    try {
      await client.query("BEGIN");
      assert.equal(await store.claim("evt-1", handler, { tx: client }), true);
      await client.query("ROLLBACK");
    } finally {
      client.release();
    }
    assert.equal(await store.claim("evt-1", handler), true);
  });

  test("a schema without the extension is an ExtensionNotInstalledError", async () => {
    const elsewhere = new PgProjectionOffsetStore(pool, { schema: "pg_catalog" });
    await assert.rejects(elsewhere.claim("evt-1", handler), ExtensionNotInstalledError);
    const nowhere = new PgProjectionOffsetStore(pool, { schema: `${schema}_missing` });
    await assert.rejects(nowhere.claimMany(["evt-1"], handler), ExtensionNotInstalledError);
  });
});

describe("claimMany", () => {
  test("returns the ids recorded by this call, in order of first appearance", async () => {
    assert.deepEqual(await store.claimMany(["e-3", "e-1", "e-3", "e-2"], handler), ["e-3", "e-1", "e-2"]);
    assert.deepEqual(await store.claimMany(["e-2", "e-4", "e-1"], handler), ["e-4"]);
    assert.deepEqual(await store.claimMany([], handler), []);
    assert.equal((await offsets(handler)).length, 4);
  });

  test("a bad element records nothing", async () => {
    await assert.rejects(store.claimMany(["e-1", ""], handler), InvalidOffsetInputError);
    await assert.rejects(store.claimMany(["e-1", null as unknown as string], handler), (err: unknown) => {
      assert.ok(err instanceof InvalidOffsetInputError);
      assert.equal(err.reason, "null");
      return true;
    });
    assert.deepEqual(await offsets(handler), []);
  });
});

describe("record", () => {
  test("a second record of the pair is a DuplicateOffsetError", async () => {
    await store.record("evt-1", handler);
    await assert.rejects(store.record("evt-1", handler), (err: unknown) => {
      assert.ok(err instanceof DuplicateOffsetError);
      assert.equal(err.code, "23505");
      return true;
    });
  });
});

describe("applyWithOffset", () => {
  test("replayed five times, the mutation applies once", async () => {
    const before = await total("o-2");
    const outcomes = [];
    for (let i = 0; i < 5; i++) outcomes.push(await store.applyWithOffset("evt-1", handler, addTo("o-2", 25)));
    assert.deepEqual(outcomes[0], { applied: true, result: 25 });
    for (const o of outcomes.slice(1)) assert.deepEqual(o, { applied: false });
    assert.equal(await total("o-2"), before + 25);
  });

  test("a failing mutation rolls back the claim and its own writes; a retry applies", async () => {
    const before = await total("o-3");
    const boom = new Error("projector failed");
    await assert.rejects(
      store.applyWithOffset("evt-1", handler, async (tx) => {
        await addTo("o-3", 7)(tx);
        throw boom;
      }),
      (err: unknown) => err === boom,
    );
    assert.equal(await total("o-3"), before);
    assert.deepEqual(await offsets(handler), []);
    assert.deepEqual(await store.applyWithOffset("evt-1", handler, addTo("o-3", 7)), { applied: true, result: 7 });
    assert.equal(await total("o-3"), before + 7);
  });

  test("a failing SQL statement in the mutation keeps its SQLSTATE and rolls back both", async () => {
    await assert.rejects(
      store.applyWithOffset("evt-1", handler, (tx) => tx.query("SELECT 1 / 0")),
      (err: unknown) => (err as { code?: string }).code === "22012",
    );
    assert.deepEqual(await offsets(handler), []);
  });

  test("a mutation that swallows a failed statement does not report success", async () => {
    await assert.rejects(
      store.applyWithOffset("evt-1", handler, async (tx) => {
        await tx.query("SELECT 1 / 0").catch(() => undefined);
      }),
      TransactionRolledBackError,
    );
    assert.deepEqual(await offsets(handler), []);
  });

  test("a diverging payload is refused before the mutation runs", async () => {
    await store.applyWithOffset("evt-1", handler, addTo("o-4", 1), { payload: { amount: 1 } });
    let ran = false;
    await assert.rejects(
      store.applyWithOffset("evt-1", handler, async () => { ran = true; }, { payload: { amount: 2 } }),
      PayloadDivergenceError,
    );
    assert.equal(ran, false);
  });

  test("concurrent deliveries of one event apply it once", async () => {
    const before = await total("o-5");
    const results = await Promise.all(
      Array.from({ length: 4 }, () =>
        store.applyWithOffset("evt-1", handler, async (tx) => {
          await addTo("o-5", 10)(tx);
          await tx.query("SELECT pg_sleep(0.05)");
        }),
      ),
    );
    assert.equal(results.filter((r) => r.applied).length, 1);
    assert.equal(await total("o-5"), before + 10);
  });

  test("works on a single Client as well as on a Pool", async () => {
    const client = new Client();
    await client.connect();
    try {
      const single = new PgProjectionOffsetStore(client);
      assert.equal((await single.applyWithOffset("evt-1", handler, addTo("o-6", 1))).applied, true);
      assert.equal((await single.applyWithOffset("evt-1", handler, addTo("o-6", 1))).applied, false);
    } finally {
      await client.end();
    }
  });
});

describe("applyOnServer", () => {
  test("calls the projector once, in the claim's transaction", async () => {
    const before = await total("o-7");
    const payload = { order: "o-7", amount: 5 };
    assert.equal(await store.applyOnServer("evt-1", handler, `${schema}.project_order(text,jsonb)`, payload), true);
    assert.equal(await store.applyOnServer("evt-1", handler, `${schema}.project_order(text,jsonb)`, payload), false);
    assert.equal(await total("o-7"), before + 5);
  });

  test("agrees with the client-side path on payload hashes", async () => {
    const payload = { order: "o-8", amount: 3 };
    await store.applyWithOffset("evt-1", handler, addTo("o-8", 3), { payload });
    assert.equal(await store.applyOnServer("evt-1", handler, `${schema}.project_order(text,jsonb)`, payload), false);
    await assert.rejects(
      store.applyOnServer("evt-1", handler, `${schema}.project_order(text,jsonb)`, { ...payload, amount: 4 }),
      PayloadDivergenceError,
    );
  });

  test("a projector's error keeps its SQLSTATE and records nothing", async () => {
    const before = await total("o-1");
    await assert.rejects(store.applyOnServer("evt-1", handler, `${schema}.project_fail(jsonb)`, {}), (err: unknown) => {
      assert.equal((err as { code?: string }).code, "P0042");
      return true;
    });
    assert.equal(await total("o-1"), before);
    assert.deepEqual(await offsets(handler), []);
  });

  test("a bad projector is an InvalidProjectorError", async () => {
    for (const projector of [
      `${schema}.not_a_function(jsonb)`,
      `${schema}.wrong_args(integer)`,
      `${schema}.no_such_projector(jsonb)`,
    ]) {
      await assert.rejects(store.applyOnServer("evt-1", handler, projector, {}), (err: unknown) => {
        assert.ok(err instanceof InvalidProjectorError, `${projector}: ${String(err)}`);
        return true;
      });
    }
    assert.deepEqual(await offsets(handler), []);
  });
});

describe("applyManyOnServer", () => {
  test("applies each event not yet recorded", async () => {
    const before = await total("o-9");
    const events = [1, 2, 3].map((n) => ({ eventId: `evt-${n}`, payload: { order: "o-9", amount: n } }));
    assert.equal(await store.applyManyOnServer(handler, `${schema}.project_order(text,jsonb)`, events), 3);
    const more = [...events, { eventId: "evt-4", payload: { order: "o-9", amount: 4 } }];
    assert.equal(await store.applyManyOnServer(handler, `${schema}.project_order(text,jsonb)`, more), 1);
    assert.equal(await total("o-9"), before + 10);
  });

  test("events at or below the checkpoint are duplicates; positions keep all their digits", async () => {
    await pool.query("SELECT offset_checkpoint($1, $2)", [handler, 10]);
    const before = await total("o-8");
    const events = [
      { eventId: "evt-old", payload: { order: "o-8", amount: 100 }, position: 10 },
      { eventId: "evt-new", payload: { order: "o-8", amount: 1 }, position: 11 },
      { eventId: "evt-big", payload: { order: "o-8", amount: 2 }, position: 9007199254740993n },
      { eventId: "evt-none", payload: { order: "o-8", amount: 4 } },
    ];
    assert.equal(await store.applyManyOnServer(handler, `${schema}.project_order(text,jsonb)`, events), 3);
    assert.equal(await total("o-8"), before + 7);
    assert.deepEqual(await positions(handler), [
      { eventId: "evt-big", position: "9007199254740993" },
      { eventId: "evt-new", position: "11" },
    ]);
    assert.deepEqual((await offsets(handler)).map((o) => o.eventId), ["evt-big", "evt-new", "evt-none"]);
  });
});
