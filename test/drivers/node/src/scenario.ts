// The driver scenario: every documented function of projection_offset called
// the way a JavaScript application writes it (values bound as parameters,
// no casts in the SQL text), each outcome checked in the database.
// test/drivers/python/drivers.py and test/drivers/java/Drivers.java run the
// same scenario, with the same check names, for their drivers.
import { Report, show } from "./report";

export type Row = Record<string, unknown>;

/** One connection (a session): what the scenario runs SQL on. */
export interface Conn {
  /** An extension call, a tagged template: every ${value} is a bind parameter. */
  call(strings: TemplateStringsArray, ...values: unknown[]): Promise<Row[]>;
  /** A check of the database's state (not an extension call). */
  read(strings: TemplateStringsArray, ...values: unknown[]): Promise<Row[]>;
  /**
   * A statement run for its effect (SET, or a function returning void):
   * returns the row count the driver reports.
   */
  execute(strings: TemplateStringsArray, ...values: unknown[]): Promise<number>;
}

export interface Driver extends Conn {
  /** The driver's name; its event ids and handler names start with it. */
  readonly name: string;
  /** Where the application reads the SQLSTATE of an error, as code. */
  readonly sqlstatePath: string;
  /** Where it reads the CONTEXT line, or why it cannot. */
  readonly contextPath: string;
  sqlstate(err: unknown): string | undefined;
  /** The server's message of an error. */
  message(err: unknown): string;
  /** The CONTEXT text of a server error; undefined when the driver drops it. */
  context(err: unknown): string | undefined;
  /** Runs fn in one transaction (so on one connection); commits when it resolves. */
  transaction<T>(fn: (c: Conn) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** A JSON array the application sends as text (JSON.stringify). */
export class JsonText {
  constructor(readonly value: unknown) {}
  toString(): string {
    return JSON.stringify(this.value);
  }
}

/** How the value is handed to the driver, for the call-shape table. */
export function describe(value: unknown): string {
  if (value instanceof JsonText) return "JSON.stringify(array)";
  if (value === null) return "null";
  if (value instanceof Date) return "Date";
  if (Array.isArray(value)) return value.every((v) => typeof v === "string") ? "string[]" : "array";
  return typeof value;
}

/** The SQL text a tagged template sends: ${} becomes $1, $2, ... */
export function sqlText(strings: TemplateStringsArray): string {
  return strings.reduce((text, part, i) => text + (i > 0 ? `$${i}` : "") + part, "");
}

interface Outcome {
  rows?: Row[];
  count?: number;
  error?: unknown;
}

export async function runScenario(d: Driver, r: Report): Promise<void> {
  const id = (n: string) => `${d.name}-${n}`;
  const handler = (n: string) => `${d.name}:${n}`;

  // An extension call: recorded in the call-shape table with its outcome.
  async function api(conn: Conn, execute: boolean, strings: TemplateStringsArray, ...values: unknown[]): Promise<Outcome> {
    let o: Outcome;
    try {
      o = execute ? { count: await conn.execute(strings, ...values) } : { rows: await conn.call(strings, ...values) };
    } catch (error) {
      o = { error };
    }
    const call = sqlText(strings).replace(/\s+/g, " ").trim();
    r.shape(call, values.map(describe).join(", "), outcomeText(o));
    return o;
  }
  const on = (conn: Conn) => (strings: TemplateStringsArray, ...values: unknown[]) => api(conn, false, strings, ...values);
  const call = on(d);
  const execute = (strings: TemplateStringsArray, ...values: unknown[]) => api(d, true, strings, ...values);

  function outcomeText(o: Outcome): string {
    if (o.error !== undefined) {
      const code = d.sqlstate(o.error);
      // The SQLSTATEs the scenario provokes on purpose; others come with their message.
      if (code !== undefined && ["PJ001", "23514", "PX042"].includes(code)) return `error ${code}`;
      if (code !== undefined) return `error ${code}: ${d.message(o.error)}`;
      return `client error: ${String((o.error as Error)?.message ?? o.error).split("\n")[0]}`;
    }
    if (o.count !== undefined) return `executed, row count ${o.count}`;
    const rows = o.rows ?? [];
    if (rows.length === 1 && Object.keys(rows[0]).length === 1) return show(Object.values(rows[0])[0]);
    if (rows.length === 1) return show(rows[0]);
    return show(rows.map((row) => Object.values(row)[0]));
  }
  const value = (o: Outcome) => (o.rows !== undefined && o.rows.length === 1 ? Object.values(o.rows[0])[0] : undefined);
  const column = (o: Outcome) => (o.rows ?? []).map((row) => Object.values(row)[0]);
  const code = (o: Outcome) => (o.error === undefined ? "no error" : d.sqlstate(o.error) ?? "no SQLSTATE");
  const num = (v: unknown) => (v === undefined || v === null ? v : Number(v));

  // The database's state, read back.
  async function hashes(event: string, h: string): Promise<unknown[]> {
    const rows = await d.read`SELECT "payloadHash" FROM projection_offset
                               WHERE "eventId" = ${event} AND "handlerName" = ${h}`;
    return rows.map((row) => row.payloadHash);
  }
  async function positions(event: string, h: string): Promise<unknown[]> {
    const rows = await d.read`SELECT "position" FROM projection_offset_position
                               WHERE "eventId" = ${event} AND "handlerName" = ${h}`;
    return rows.map((row) => num(row.position));
  }
  async function applied(event: string): Promise<number> {
    const rows = await d.read`SELECT count(*) AS n FROM drivers_applied WHERE event_id = ${event}`;
    return Number(rows[0].n);
  }
  async function offsetCount(h: string): Promise<number> {
    const rows = await d.read`SELECT count(*) AS n FROM projection_offset WHERE "handlerName" = ${h}`;
    return Number(rows[0].n);
  }
  // The recorded hash is the server's SHA-256 of the payload the projector received.
  async function hashOfApplied(event: string, h: string): Promise<boolean> {
    const rows = await d.read`SELECT o."payloadHash" = encode(sha256(convert_to(a.payload::text, 'UTF8')), 'hex') AS same
                                FROM projection_offset o JOIN drivers_applied a ON a.event_id = o."eventId"
                               WHERE o."eventId" = ${event} AND o."handlerName" = ${h}`;
    return rows.length === 1 && rows[0].same === true;
  }
  function projectorError(o: Outcome, expected: string, h: string, event: string | undefined): void {
    r.check(code(o) === expected, `the projector's own SQLSTATE ${expected} reaches the application (${d.sqlstatePath})`, code(o));
    const context = d.context(o.error);
    if (context === undefined) {
      r.check(true, `CONTEXT line: ${d.contextPath}`);
    } else {
      const line = event === undefined
        ? `projection_offset projector for handler "${h}"`
        : `projection_offset projector for handler "${h}", event "${event}"`;
      r.check(context.includes(line), `the CONTEXT line names handler and event (${d.contextPath})`, context);
    }
  }

  // --- offset_claim: claim, re-delivery, divergence ----------------------
  const claims = handler("claims");
  let o = await call`SELECT offset_claim(${id("c1")}, ${claims}) AS recorded`;
  r.check(value(o) === true, "offset_claim of a new event returns true", value(o) ?? code(o));
  o = await call`SELECT offset_claim(${id("c1")}, ${claims}) AS recorded`;
  r.check(value(o) === false, "offset_claim of a re-delivery returns false", value(o) ?? code(o));
  r.check(show(await hashes(id("c1"), claims)) === "[null]", "one offset row, no payload hash", await hashes(id("c1"), claims));

  o = await call`SELECT offset_claim(${id("c2")}, ${claims}, ${"aaaa"}) AS recorded`;
  r.check(value(o) === true, "offset_claim with a payload hash returns true", value(o) ?? code(o));
  o = await call`SELECT offset_claim(${id("c2")}, ${claims}, ${"aaaa"}) AS recorded`;
  r.check(value(o) === false, "the same hash again returns false", value(o) ?? code(o));
  o = await call`SELECT offset_claim(${id("c2")}, ${claims}, ${"bbbb"}) AS recorded`;
  r.check(code(o) === "PJ001", `a different hash raises PJ001, read at ${d.sqlstatePath}`, code(o));
  r.check(show(await hashes(id("c2"), claims)) === '["aaaa"]', "the divergent call stored nothing: one row, hash aaaa", await hashes(id("c2"), claims));

  // --- offset_claim_at against a checkpoint ------------------------------
  const positioned = handler("positions");
  o = await call`SELECT offset_checkpoint(${positioned}, ${100}) AS checkpoint`;
  r.check(num(value(o)) === 100, "offset_checkpoint returns the checkpoint in force", value(o) ?? code(o));
  o = await call`SELECT offset_claim_at(${id("p50")}, ${positioned}, ${50}) AS recorded`;
  r.check(value(o) === false, "offset_claim_at below the checkpoint returns false", value(o) ?? code(o));
  r.check((await hashes(id("p50"), positioned)).length === 0 && (await positions(id("p50"), positioned)).length === 0,
    "a claim below the checkpoint stores no offset and no position");
  o = await call`SELECT offset_claim_at(${id("p150")}, ${positioned}, ${150}) AS recorded`;
  r.check(value(o) === true, "offset_claim_at above the checkpoint returns true", value(o) ?? code(o));
  r.check(show(await positions(id("p150"), positioned)) === "[150]", "the bound number is stored as the position (projection_offset_position)",
    await positions(id("p150"), positioned));
  o = await call`SELECT offset_claim_at(${id("p151")}, ${positioned}, ${151}, ${"cccc"}) AS recorded`;
  r.check(value(o) === true, "offset_claim_at with position and hash returns true", value(o) ?? code(o));
  r.check(show(await hashes(id("p151"), positioned)) === '["cccc"]' && show(await positions(id("p151"), positioned)) === "[151]",
    "position 151 and hash cccc stored");

  // A number bound as offset_claim's third argument: that argument is the
  // payload hash; the name offset_claim never takes a position.
  o = await call`SELECT offset_claim(${id("n42")}, ${claims}, ${42}) AS recorded`;
  r.check((await positions(id("n42"), claims)).length === 0, "a number bound to offset_claim is never stored as a position");
  const stored42 = await hashes(id("n42"), claims);
  r.check(o.error !== undefined ? stored42.length === 0 : show(stored42) === '["42"]',
    "it is refused, or stored as the hash text 42 it was bound as", stored42);

  // --- offset_claim_batch ------------------------------------------------
  const batch = handler("batch");
  o = await call`SELECT id FROM offset_claim_batch(${[id("b0")]}, ${batch}) AS id`;
  r.check(show(column(o)) === show([id("b0")]), "offset_claim_batch of one new id returns it", column(o));
  o = await call`SELECT id FROM offset_claim_batch(${[id("b1"), id("b0"), id("b2"), id("b1")]}, ${batch}) AS id`;
  r.check(show(column(o)) === show([id("b1"), id("b2")]), "offset_claim_batch returns exactly the new ids, in order", o.rows ? column(o) : code(o));
  r.check((await offsetCount(batch)) === 3, "three offset rows for the batch handler", await offsetCount(batch));
  o = await call`SELECT id FROM offset_claim_batch(${[id("b1"), id("b2")]}, ${batch}) AS id`;
  r.check(o.rows !== undefined && o.rows.length === 0, "a re-delivered batch returns no id", o.rows ? column(o) : code(o));

  // An array bound to the single-event name.
  const before = await offsetCount(claims);
  o = await call`SELECT offset_claim(${[id("m1"), id("m2")]}, ${claims}) AS recorded`;
  const mis = await d.read`SELECT "eventId" FROM projection_offset WHERE "handlerName" = ${claims} AND "eventId" LIKE '{%'`;
  r.check((await hashes(id("m1"), claims)).length === 0 && (await hashes(id("m2"), claims)).length === 0,
    "an array bound to offset_claim claims none of its elements");
  r.check(o.error !== undefined ? (await offsetCount(claims)) === before : mis.length === 1,
    "it is refused, or stored as the one id the driver wrote the array as", mis.map((row) => row.eventId));

  // --- apply_with_offset, single -----------------------------------------
  const apply = handler("apply");
  const sqlProjector = "public.drivers_project_sql(text,jsonb)";
  o = await call`SELECT apply_with_offset(${id("a1")}, ${apply}, ${sqlProjector}, ${{ amount: 5 }}) AS applied`;
  r.check(value(o) === true, "apply_with_offset with a LANGUAGE sql projector returns true", value(o) ?? code(o));
  o = await call`SELECT apply_with_offset(${id("a1")}, ${apply}, ${sqlProjector}, ${{ amount: 5 }}) AS applied`;
  r.check(value(o) === false, "its re-delivery returns false", value(o) ?? code(o));
  r.check((await applied(id("a1"))) === 1, "the projector ran once (one read-model row)", await applied(id("a1")));
  r.check(await hashOfApplied(id("a1"), apply), "the stored hash is the SHA-256 of the payload the projector got");
  o = await call`SELECT apply_with_offset(${id("a1")}, ${apply}, ${sqlProjector}, ${{ amount: 6 }}) AS applied`;
  r.check(code(o) === "PJ001", "a different payload under the same id raises PJ001", code(o));
  r.check((await applied(id("a1"))) === 1, "and the projector did not run again", await applied(id("a1")));

  // Three parameters, the projector as a bare name: not ambiguous.
  o = await call`SELECT apply_with_offset(${id("a2")}, ${apply}, ${"public.drivers_project_plpgsql"}) AS applied`;
  r.check(value(o) === true, "apply_with_offset($1, $2, $3) with a bare projector name returns true (not 42725)", value(o) ?? code(o));
  r.check((await applied(id("a2"))) === 1 && show(await hashes(id("a2"), apply)) === "[null]",
    "the LANGUAGE plpgsql projector ran once; no payload, no hash");

  // The projector's own errors keep their SQLSTATE; nothing is stored.
  o = await call`SELECT apply_with_offset(${id("a3")}, ${apply}, ${sqlProjector}, ${{ amount: -1 }}) AS applied`;
  projectorError(o, "23514", apply, id("a3"));
  r.check((await hashes(id("a3"), apply)).length === 0 && (await applied(id("a3"))) === 0,
    "a failed projector leaves no offset and no read-model row");
  const plpgsqlProjector = "public.drivers_project_plpgsql(text,jsonb)";
  o = await call`SELECT apply_with_offset(${id("a4")}, ${apply}, ${plpgsqlProjector}, ${{ amount: 1, raise: "PX042" }}) AS applied`;
  projectorError(o, "PX042", apply, id("a4"));
  r.check((await hashes(id("a4"), apply)).length === 0 && (await applied(id("a4"))) === 0,
    "the row the projector wrote before raising is gone, and no offset");
  o = await call`SELECT apply_with_offset(${id("a4")}, ${apply}, ${plpgsqlProjector}, ${{ amount: 1 }}) AS applied`;
  r.check(value(o) === true && (await applied(id("a4"))) === 1, "the event is still new: the next delivery applies it once", value(o) ?? code(o));

  // --- apply_with_offset_batch -------------------------------------------
  const batchApply = handler("batch-apply");
  const events = [
    { event_id: id("e1"), payload: { amount: 1 }, position: 1 },
    { event_id: id("e2"), payload: { amount: 2 }, position: 2 },
    { event_id: id("e1"), payload: { amount: 1 }, position: 1 },
  ];
  o = await call`SELECT apply_with_offset_batch(${batchApply}, ${sqlProjector}, ${new JsonText(events)}) AS applied`;
  r.check(num(value(o)) === 2, "apply_with_offset_batch returns how many it applied (a repeat counts once)", value(o) ?? code(o));
  const more = [...events, { event_id: id("e3"), payload: { amount: 3 }, position: 3 }];
  o = await call`SELECT apply_with_offset_batch(${batchApply}, ${sqlProjector}, ${new JsonText(more)}) AS applied`;
  r.check(num(value(o)) === 1, "a re-delivered batch applies only the new event", value(o) ?? code(o));
  r.check((await applied(id("e1"))) === 1 && (await applied(id("e2"))) === 1 && (await applied(id("e3"))) === 1,
    "each event of the batches applied exactly once");
  r.check(show(await positions(id("e2"), batchApply)) === "[2]", "the events' positions are stored", await positions(id("e2"), batchApply));
  // The same events as a JavaScript array, not as JSON text.
  o = await call`SELECT apply_with_offset_batch(${batchApply}, ${sqlProjector}, ${[{ event_id: id("e9"), payload: { amount: 9 } }]}) AS applied`;
  r.check(o.error !== undefined
      ? (await applied(id("e9"))) === 0 && (await hashes(id("e9"), batchApply)).length === 0
      : (await applied(id("e9"))) === 1,
    "events without the driver's JSON support are refused and store nothing, or are applied once", outcomeText(o));

  const setProjector = "public.drivers_project_set(text[],jsonb[])";
  o = await call`SELECT apply_with_offset_batch(${handler("batch-set")}, ${setProjector},
                    ${new JsonText([{ event_id: id("s1"), payload: { amount: 1 } }, { event_id: id("s2") }])}) AS applied`;
  r.check(num(value(o)) === 2 && (await applied(id("s1"))) === 1 && (await applied(id("s2"))) === 1,
    "a set projector applies the batch once", value(o) ?? code(o));

  o = await call`SELECT apply_with_offset_batch(${batchApply}, ${"public.drivers_project_plpgsql"},
                    ${new JsonText([{ event_id: id("f1"), payload: { amount: 1 } }, { event_id: id("f2"), payload: { amount: 1, raise: "PX042" } }])}) AS applied`;
  projectorError(o, "PX042", batchApply, id("f2"));
  r.check((await hashes(id("f1"), batchApply)).length === 0 && (await applied(id("f1"))) === 0 && (await applied(id("f2"))) === 0,
    "a failed batch stores nothing, not even its first event");

  // --- which function each call reached ----------------------------------
  // With track_functions = 'all', pg_stat_xact_user_functions names every
  // function the transaction called, with its argument types.
  const resolved = handler("resolved");
  await d.transaction(async (t) => {
    await t.execute`SET LOCAL track_functions = 'all'`;
    await on(t)`SELECT apply_with_offset(${id("r1")}, ${resolved}, ${sqlProjector}, ${{ amount: 1 }}) AS applied`;
    await on(t)`SELECT apply_with_offset(${id("r2")}, ${resolved}, ${"public.drivers_project_sql"}) AS applied`;
    await on(t)`SELECT apply_with_offset_batch(${resolved}, ${sqlProjector}, ${new JsonText([{ event_id: id("r3") }])}) AS applied`;
    await on(t)`SELECT offset_claim(${id("r4")}, ${resolved}, ${"aaaa"}) AS recorded`;
    await on(t)`SELECT offset_claim_at(${id("r5")}, ${resolved}, ${5}) AS recorded`;
    await on(t)`SELECT id FROM offset_claim_batch(${[id("r6")]}, ${resolved}) AS id`;
    const rows = await t.read`SELECT funcid::regprocedure::text AS fn, calls FROM pg_stat_xact_user_functions
                               WHERE funcname IN ('apply_with_offset', 'apply_with_offset_batch', 'offset_claim',
                                                  'offset_claim_at', 'offset_claim_batch')
                               ORDER BY 1`;
    const found = rows.map((row) => `${row.fn} x${num(row.calls)}`);
    r.detach();
    r.check(show(found) === show([
      "apply_with_offset(text,text,text,jsonb) x2",
      "apply_with_offset_batch(text,text,jsonb) x1",
      "offset_claim(text,text,text) x1",
      "offset_claim_at(text,text,bigint,text) x1",
      "offset_claim_batch(text[],text) x1",
    ]), "each call reached the function named for it; a projector string reached the text form (pg_stat_xact_user_functions)", found);
  });

  // --- offset_replaying --------------------------------------------------
  await d.transaction(async (s) => {
    o = await on(s)`SELECT offset_replaying() AS replaying`;
    r.check(value(o) === false, "offset_replaying() is false by default", value(o) ?? code(o));
    await s.execute`SET projection_offset.replaying = on`;
    o = await on(s)`SELECT offset_replaying() AS replaying`;
    r.check(value(o) === true, "offset_replaying() is true after SET projection_offset.replaying = on in the session", value(o) ?? code(o));
    await s.execute`RESET projection_offset.replaying`;
  });

  // --- release, checkpoint and prune, status, counters, reset ------------
  o = await call`SELECT offset_release(${id("c1")}, ${claims}) AS released`;
  r.check(value(o) === true && (await hashes(id("c1"), claims)).length === 0, "offset_release forgets the offset", value(o) ?? code(o));
  o = await call`SELECT offset_release(${id("c1")}, ${claims}) AS released`;
  r.check(value(o) === false, "a second offset_release returns false", value(o) ?? code(o));

  o = await call`SELECT offset_checkpoint(${positioned}, ${150}) AS checkpoint`;
  r.check(num(value(o)) === 150, "offset_checkpoint moves forward", value(o) ?? code(o));
  o = await call`SELECT offset_prune(${positioned}) AS pruned`;
  r.check(num(value(o)) === 1 && (await hashes(id("p150"), positioned)).length === 0 && (await hashes(id("p151"), positioned)).length === 1,
    "offset_prune(handler) removes the offsets at or below the checkpoint only", value(o) ?? code(o));
  o = await call`SELECT offset_claim_at(${id("p150")}, ${positioned}, ${150}) AS recorded`;
  r.check(value(o) === false && (await hashes(id("p150"), positioned)).length === 0,
    "a late re-delivery of a pruned event is still a duplicate and stores nothing", value(o) ?? code(o));
  o = await call`SELECT offsets, "checkpoint" FROM projection_offset_status WHERE handler_name = ${positioned}`;
  const status = o.rows?.[0];
  r.check(num(status?.offsets) === 1 && num(status?.checkpoint) === 150, "projection_offset_status shows 1 offset, checkpoint 150", status);

  const inAnHour = new Date(Date.now() + 3600 * 1000);
  const claimsLeft = await offsetCount(claims);
  o = await call`SELECT offset_prune(${claims}, ${inAnHour}) AS pruned`;
  r.check(num(value(o)) === claimsLeft && (await offsetCount(claims)) === 0,
    "offset_prune(handler, older_than) removes the offsets applied before it", value(o) ?? code(o));

  const counted = handler("counted");
  // A function returning void is run for its effect: Prisma's $queryRaw
  // cannot read a void column, $executeRaw runs it.
  o = await execute`SELECT projection_offset_counters_reset()`;
  r.check(o.error === undefined, "projection_offset_counters_reset() runs", code(o));
  await call`SELECT offset_claim(${id("k1")}, ${counted}, ${"aaaa"}) AS recorded`;
  await call`SELECT offset_claim(${id("k1")}, ${counted}, ${"aaaa"}) AS recorded`;
  await call`SELECT offset_claim(${id("k1")}, ${counted}, ${"bbbb"}) AS recorded`;
  o = await call`SELECT claims, duplicates, divergences FROM projection_offset_counters() WHERE handler_name = ${counted}`;
  const c = o.rows?.[0];
  r.check(num(c?.claims) === 1 && num(c?.duplicates) === 1 && num(c?.divergences) === 1,
    "projection_offset_counters() counts 1 claim, 1 duplicate, 1 divergence", c ?? code(o));

  const applyOffsets = await offsetCount(apply);
  o = await call`SELECT offset_reset(${apply}) AS removed`;
  r.check(num(value(o)) === applyOffsets && applyOffsets > 0 && (await offsetCount(apply)) === 0,
    "offset_reset removes every offset of the handler", value(o) ?? code(o));

  r.detach();
  r.check(!r.outcomes().some((x) => x.includes("42725")), "no call shape above was ambiguous (42725)", r.outcomes().filter((x) => x.includes("42725")));
}
