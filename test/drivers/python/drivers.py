"""The driver scenario for psycopg 3 (plain and prepare=True) and asyncpg.

Every documented function of projection_offset is called the way a Python
application writes it: values bound as parameters, no casts in the SQL text.
Each outcome is checked in the database. It is the scenario of
test/drivers/node/src/scenario.ts, with the same check names; the output
lines are those test/drivers/suite.sh counts:

    ok <driver>: <check>
    not ok <driver>: <check>: found <what>
    shape<TAB><driver><TAB><call><TAB><bound as><TAB><outcome><TAB><checked>

Usage: python3 drivers.py psycopg|psycopg-prepared|asyncpg
(connection from PGHOST, PGPORT, PGUSER, PGDATABASE). Exits 1 when a check
failed.
"""

import asyncio
import contextlib
import datetime
import json
import re
import sys


class Report:
    def __init__(self, driver):
        self.driver = driver
        self.passed = 0
        self.failed = 0
        self.shapes = {}
        self.current = None

    def shape(self, call, bound, outcome):
        entry = self.shapes.setdefault((call, bound), {"outcomes": [], "checked": []})
        if outcome not in entry["outcomes"]:
            entry["outcomes"].append(outcome)
        self.current = entry

    def check(self, condition, what, found=None):
        if condition:
            self.passed += 1
            print(f"ok {self.driver}: {what}")
        else:
            self.failed += 1
            print(f"not ok {self.driver}: {what}: found {found!r}")
        if self.current is not None and what not in self.current["checked"]:
            self.current["checked"].append(what)

    def detach(self):
        self.current = None

    def outcomes(self):
        return [o for entry in self.shapes.values() for o in entry["outcomes"]]

    def flush(self):
        for (call, bound), entry in self.shapes.items():
            cells = [self.driver, call, bound, "; ".join(entry["outcomes"]), "; ".join(entry["checked"])]
            print("\t".join(["shape"] + [re.sub(r"[\t\n]", " ", c) for c in cells]))


class Json:
    """A dict or list the application hands over as JSON: psycopg wraps it
    in Jsonb, asyncpg sends json.dumps of it (asyncpg's jsonb takes a str)."""

    def __init__(self, value):
        self.value = value


def describe(d, value):
    if isinstance(value, Json):
        return d.json_shape + "(" + type(value.value).__name__ + ")"
    if isinstance(value, list):
        return "list[" + (type(value[0]).__name__ if value else "") + "]"
    return type(value).__name__


class Failure(Exception):
    """A call that failed: the driver's error, kept for the checks."""

    def __init__(self, error):
        super().__init__(str(error))
        self.error = error


# --- drivers -----------------------------------------------------------------

class Psycopg:
    """psycopg 3: cursor.execute(sql, params), %s placeholders. A str goes as
    an untyped parameter, an int as the smallest integer type that holds it,
    a list as an array, a dict only through the Jsonb wrapper."""

    sqlstate_path = "err.sqlstate"
    context_path = "err.diag.context"
    json_shape = "Jsonb"

    def __init__(self, prepare):
        import psycopg
        from psycopg.types.json import Jsonb

        self.psycopg = psycopg
        self.Jsonb = Jsonb
        self.prepare = prepare
        self.name = "psycopg-prepared" if prepare else "psycopg"
        # Autocommit: each statement is its own transaction, as in the
        # other drivers of the scenario.
        self.conn = psycopg.connect(autocommit=True)

    def param(self, v):
        if isinstance(v, Json):
            return self.Jsonb(v.value)
        return v

    @staticmethod
    def text(sql):
        # psycopg's placeholders are %s; a literal % is written %%.
        return re.sub(r"\$\d+", "%s", sql.replace("%", "%%"))

    async def query(self, sql, *values):
        cur = self.conn.cursor()
        cur.execute(self.text(sql), [self.param(v) for v in values], prepare=self.prepare)
        names = [c.name for c in cur.description] if cur.description else []
        return [dict(zip(names, row)) for row in cur.fetchall()] if names else []

    async def execute(self, sql, *values):
        cur = self.conn.cursor()
        cur.execute(self.text(sql), [self.param(v) for v in values], prepare=self.prepare)
        return cur.rowcount

    @contextlib.asynccontextmanager
    async def transaction(self):
        with self.conn.transaction():
            yield

    def sqlstate(self, err):
        return err.sqlstate if isinstance(err, self.psycopg.Error) else None

    def context(self, err):
        return (err.diag.context or "") if isinstance(err, self.psycopg.Error) else None

    async def close(self):
        self.conn.close()


class Asyncpg:
    """asyncpg: conn.fetch(sql, *args), $n placeholders. Every statement is
    prepared; the server infers each parameter's type and asyncpg encodes the
    value for it (a str for text, an int for bigint, a list for text[]);
    jsonb takes a str (json.dumps) unless a codec is set on the connection."""

    name = "asyncpg"
    sqlstate_path = "err.sqlstate"
    context_path = "err.context"
    json_shape = "json.dumps"

    async def open(self):
        import asyncpg

        self.asyncpg = asyncpg
        self.conn = await asyncpg.connect()
        return self

    def param(self, v):
        return json.dumps(v.value) if isinstance(v, Json) else v

    async def query(self, sql, *values):
        return [dict(r) for r in await self.conn.fetch(sql, *[self.param(v) for v in values])]

    async def execute(self, sql, *values):
        status = await self.conn.execute(sql, *[self.param(v) for v in values])
        last = status.split()[-1]
        return int(last) if last.isdigit() else 0

    @contextlib.asynccontextmanager
    async def transaction(self):
        async with self.conn.transaction():
            yield

    def sqlstate(self, err):
        return err.sqlstate if isinstance(err, self.asyncpg.PostgresError) else None

    def context(self, err):
        return (err.context or "") if isinstance(err, self.asyncpg.PostgresError) else None

    async def close(self):
        await self.conn.close()


# --- the scenario --------------------------------------------------------------

def show(value):
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {show(v)}" for k, v in value.items()) + "}"
    return str(value)


# The SQLSTATEs the scenario provokes on purpose; any other error is shown
# with its message in the call-shape table.
EXPECTED_CODES = ("PJ001", "23514", "PX042")


class Outcome:
    def __init__(self, rows=None, count=None, error=None):
        self.rows, self.count, self.error = rows, count, error


async def run_scenario(d, r):
    def id_(n):
        return f"{d.name}-{n}"

    def handler(n):
        return f"{d.name}:{n}"

    def code(o):
        if o.error is None:
            return "no error"
        return d.sqlstate(o.error) or "no SQLSTATE"

    def outcome_text(o):
        if o.error is not None:
            state = d.sqlstate(o.error)
            if state in EXPECTED_CODES:
                return f"error {state}"
            if state is not None:
                return f"error {state}: {str(o.error).splitlines()[0]}"
            return f"client error ({type(o.error).__name__}): {str(o.error).splitlines()[0] if str(o.error) else ''}"
        if o.count is not None:
            return f"executed, row count {o.count}"
        rows = o.rows
        if len(rows) == 1 and len(rows[0]) == 1:
            return show(next(iter(rows[0].values())))
        if len(rows) == 1:
            return show(rows[0])
        return show([next(iter(row.values())) for row in rows])

    def value(o):
        if o.rows is not None and len(o.rows) == 1:
            return next(iter(o.rows[0].values()))
        return None

    def column(o):
        return [next(iter(row.values())) for row in (o.rows or [])]

    async def api(execute, sql, *values):
        try:
            if execute:
                o = Outcome(count=await d.execute(sql, *values))
            else:
                o = Outcome(rows=await d.query(sql, *values))
        except Exception as error:  # the driver's error, checked below
            o = Outcome(error=error)
        r.shape(" ".join(sql.split()), ", ".join(describe(d, v) for v in values), outcome_text(o))
        return o

    async def call(sql, *values):
        return await api(False, sql, *values)

    async def hashes(event, h):
        rows = await d.query('SELECT "payloadHash" FROM projection_offset WHERE "eventId" = $1 AND "handlerName" = $2', event, h)
        return [row["payloadHash"] for row in rows]

    async def positions(event, h):
        rows = await d.query('SELECT "position" FROM projection_offset_position WHERE "eventId" = $1 AND "handlerName" = $2', event, h)
        return [row["position"] for row in rows]

    async def applied(event):
        rows = await d.query("SELECT count(*) AS n FROM drivers_applied WHERE event_id = $1", event)
        return rows[0]["n"]

    async def offset_count(h):
        rows = await d.query('SELECT count(*) AS n FROM projection_offset WHERE "handlerName" = $1', h)
        return rows[0]["n"]

    async def hash_of_applied(event, h):
        rows = await d.query("""SELECT o."payloadHash" = encode(sha256(convert_to(a.payload::text, 'UTF8')), 'hex') AS same
                                  FROM projection_offset o JOIN drivers_applied a ON a.event_id = o."eventId"
                                 WHERE o."eventId" = $1 AND o."handlerName" = $2""", event, h)
        return len(rows) == 1 and rows[0]["same"] is True

    def projector_error(o, expected, h, event):
        r.check(code(o) == expected, f"the projector's own SQLSTATE {expected} reaches the application ({d.sqlstate_path})", code(o))
        context = d.context(o.error)
        if context is None:
            r.check(True, f"CONTEXT line: {d.context_path}")
        else:
            line = f'projection_offset projector for handler "{h}", event "{event}"'
            r.check(line in context, f"the CONTEXT line names handler and event ({d.context_path})", context)

    # --- offset_claim: claim, re-delivery, divergence ----------------------
    claims = handler("claims")
    o = await call("SELECT offset_claim($1, $2) AS recorded", id_("c1"), claims)
    r.check(value(o) is True, "offset_claim of a new event returns true", value(o) if o.error is None else code(o))
    o = await call("SELECT offset_claim($1, $2) AS recorded", id_("c1"), claims)
    r.check(value(o) is False, "offset_claim of a re-delivery returns false", value(o) if o.error is None else code(o))
    r.check(await hashes(id_("c1"), claims) == [None], "one offset row, no payload hash", await hashes(id_("c1"), claims))

    o = await call("SELECT offset_claim($1, $2, $3) AS recorded", id_("c2"), claims, "aaaa")
    r.check(value(o) is True, "offset_claim with a payload hash returns true", value(o) if o.error is None else code(o))
    o = await call("SELECT offset_claim($1, $2, $3) AS recorded", id_("c2"), claims, "aaaa")
    r.check(value(o) is False, "the same hash again returns false", value(o) if o.error is None else code(o))
    o = await call("SELECT offset_claim($1, $2, $3) AS recorded", id_("c2"), claims, "bbbb")
    r.check(code(o) == "PJ001", f"a different hash raises PJ001, read at {d.sqlstate_path}", code(o))
    r.check(await hashes(id_("c2"), claims) == ["aaaa"], "the divergent call stored nothing: one row, hash aaaa", await hashes(id_("c2"), claims))

    # --- offset_claim_at against a checkpoint ------------------------------
    positioned = handler("positions")
    o = await call("SELECT offset_checkpoint($1, $2) AS checkpoint", positioned, 100)
    r.check(value(o) == 100, "offset_checkpoint returns the checkpoint in force", value(o) if o.error is None else code(o))
    o = await call("SELECT offset_claim_at($1, $2, $3) AS recorded", id_("p50"), positioned, 50)
    r.check(value(o) is False, "offset_claim_at below the checkpoint returns false", value(o) if o.error is None else code(o))
    r.check(await hashes(id_("p50"), positioned) == [] and await positions(id_("p50"), positioned) == [],
            "a claim below the checkpoint stores no offset and no position")
    o = await call("SELECT offset_claim_at($1, $2, $3) AS recorded", id_("p150"), positioned, 150)
    r.check(value(o) is True, "offset_claim_at above the checkpoint returns true", value(o) if o.error is None else code(o))
    r.check(await positions(id_("p150"), positioned) == [150],
            "the bound number is stored as the position (projection_offset_position)", await positions(id_("p150"), positioned))
    o = await call("SELECT offset_claim_at($1, $2, $3, $4) AS recorded", id_("p151"), positioned, 151, "cccc")
    r.check(value(o) is True, "offset_claim_at with position and hash returns true", value(o) if o.error is None else code(o))
    r.check(await hashes(id_("p151"), positioned) == ["cccc"] and await positions(id_("p151"), positioned) == [151],
            "position 151 and hash cccc stored")

    # A number bound as offset_claim's third argument: that argument is the
    # payload hash; the name offset_claim never takes a position.
    o = await call("SELECT offset_claim($1, $2, $3) AS recorded", id_("n42"), claims, 42)
    r.check(await positions(id_("n42"), claims) == [], "a number bound to offset_claim is never stored as a position")
    stored42 = await hashes(id_("n42"), claims)
    r.check(stored42 == [] if o.error is not None else stored42 == ["42"],
            "it is refused, or stored as the hash text 42 it was bound as", stored42)

    # --- offset_claim_batch ------------------------------------------------
    batch = handler("batch")
    o = await call("SELECT id FROM offset_claim_batch($1, $2) AS id", [id_("b0")], batch)
    r.check(column(o) == [id_("b0")], "offset_claim_batch of one new id returns it", column(o))
    o = await call("SELECT id FROM offset_claim_batch($1, $2) AS id", [id_("b1"), id_("b0"), id_("b2"), id_("b1")], batch)
    r.check(column(o) == [id_("b1"), id_("b2")], "offset_claim_batch returns exactly the new ids, in order",
            column(o) if o.error is None else code(o))
    r.check(await offset_count(batch) == 3, "three offset rows for the batch handler", await offset_count(batch))
    o = await call("SELECT id FROM offset_claim_batch($1, $2) AS id", [id_("b1"), id_("b2")], batch)
    r.check(o.rows == [], "a re-delivered batch returns no id", column(o) if o.error is None else code(o))

    # A list bound to the single-event name.
    before = await offset_count(claims)
    o = await call("SELECT offset_claim($1, $2) AS recorded", [id_("m1"), id_("m2")], claims)
    mis = await d.query("""SELECT "eventId" FROM projection_offset WHERE "handlerName" = $1 AND "eventId" LIKE '{%'""", claims)
    r.check(await hashes(id_("m1"), claims) == [] and await hashes(id_("m2"), claims) == [],
            "an array bound to offset_claim claims none of its elements")
    r.check(await offset_count(claims) == before if o.error is not None else len(mis) == 1,
            "it is refused, or stored as the one id the driver wrote the array as", [row["eventId"] for row in mis])

    # --- apply_with_offset, single -----------------------------------------
    apply = handler("apply")
    sql_projector = "public.drivers_project_sql(text,jsonb)"
    o = await call("SELECT apply_with_offset($1, $2, $3, $4) AS applied", id_("a1"), apply, sql_projector, Json({"amount": 5}))
    r.check(value(o) is True, "apply_with_offset with a LANGUAGE sql projector returns true", value(o) if o.error is None else code(o))
    o = await call("SELECT apply_with_offset($1, $2, $3, $4) AS applied", id_("a1"), apply, sql_projector, Json({"amount": 5}))
    r.check(value(o) is False, "its re-delivery returns false", value(o) if o.error is None else code(o))
    r.check(await applied(id_("a1")) == 1, "the projector ran once (one read-model row)", await applied(id_("a1")))
    r.check(await hash_of_applied(id_("a1"), apply), "the stored hash is the SHA-256 of the payload the projector got")
    o = await call("SELECT apply_with_offset($1, $2, $3, $4) AS applied", id_("a1"), apply, sql_projector, Json({"amount": 6}))
    r.check(code(o) == "PJ001", "a different payload under the same id raises PJ001", code(o))
    r.check(await applied(id_("a1")) == 1, "and the projector did not run again", await applied(id_("a1")))
    # The payload as a plain dict, without the driver's JSON handling.
    o = await call("SELECT apply_with_offset($1, $2, $3, $4) AS applied", id_("a5"), apply, sql_projector, {"amount": 5})
    r.check(await hashes(id_("a5"), apply) == [] and await applied(id_("a5")) == 0
            if o.error is not None else await applied(id_("a5")) == 1,
            "a payload without the driver's JSON support is refused and stores nothing, or is applied once", outcome_text(o))

    # Three parameters, the projector as a bare name: not ambiguous.
    o = await call("SELECT apply_with_offset($1, $2, $3) AS applied", id_("a2"), apply, "public.drivers_project_plpgsql")
    r.check(value(o) is True, "apply_with_offset($1, $2, $3) with a bare projector name returns true (not 42725)",
            value(o) if o.error is None else code(o))
    r.check(await applied(id_("a2")) == 1 and await hashes(id_("a2"), apply) == [None],
            "the LANGUAGE plpgsql projector ran once; no payload, no hash")

    # The projector's own errors keep their SQLSTATE; nothing is stored.
    o = await call("SELECT apply_with_offset($1, $2, $3, $4) AS applied", id_("a3"), apply, sql_projector, Json({"amount": -1}))
    projector_error(o, "23514", apply, id_("a3"))
    r.check(await hashes(id_("a3"), apply) == [] and await applied(id_("a3")) == 0,
            "a failed projector leaves no offset and no read-model row")
    plpgsql_projector = "public.drivers_project_plpgsql(text,jsonb)"
    o = await call("SELECT apply_with_offset($1, $2, $3, $4) AS applied", id_("a4"), apply, plpgsql_projector,
                   Json({"amount": 1, "raise": "PX042"}))
    projector_error(o, "PX042", apply, id_("a4"))
    r.check(await hashes(id_("a4"), apply) == [] and await applied(id_("a4")) == 0,
            "the row the projector wrote before raising is gone, and no offset")
    o = await call("SELECT apply_with_offset($1, $2, $3, $4) AS applied", id_("a4"), apply, plpgsql_projector, Json({"amount": 1}))
    r.check(value(o) is True and await applied(id_("a4")) == 1, "the event is still new: the next delivery applies it once",
            value(o) if o.error is None else code(o))

    # --- apply_with_offset_batch -------------------------------------------
    batch_apply = handler("batch-apply")
    events = [
        {"event_id": id_("e1"), "payload": {"amount": 1}, "position": 1},
        {"event_id": id_("e2"), "payload": {"amount": 2}, "position": 2},
        {"event_id": id_("e1"), "payload": {"amount": 1}, "position": 1},
    ]
    o = await call("SELECT apply_with_offset_batch($1, $2, $3) AS applied", batch_apply, sql_projector, Json(events))
    r.check(value(o) == 2, "apply_with_offset_batch returns how many it applied (a repeat counts once)",
            value(o) if o.error is None else code(o))
    more = events + [{"event_id": id_("e3"), "payload": {"amount": 3}, "position": 3}]
    o = await call("SELECT apply_with_offset_batch($1, $2, $3) AS applied", batch_apply, sql_projector, Json(more))
    r.check(value(o) == 1, "a re-delivered batch applies only the new event", value(o) if o.error is None else code(o))
    r.check(await applied(id_("e1")) == 1 and await applied(id_("e2")) == 1 and await applied(id_("e3")) == 1,
            "each event of the batches applied exactly once")
    r.check(await positions(id_("e2"), batch_apply) == [2], "the events' positions are stored", await positions(id_("e2"), batch_apply))
    # The events as a plain list, without the driver's JSON handling.
    o = await call("SELECT apply_with_offset_batch($1, $2, $3) AS applied", batch_apply, sql_projector,
                   [{"event_id": id_("e9"), "payload": {"amount": 9}}])
    r.check(await applied(id_("e9")) == 0 and await hashes(id_("e9"), batch_apply) == []
            if o.error is not None else await applied(id_("e9")) == 1,
            "events without the driver's JSON support are refused and store nothing, or are applied once", outcome_text(o))

    set_projector = "public.drivers_project_set(text[],jsonb[])"
    o = await call("SELECT apply_with_offset_batch($1, $2, $3) AS applied", handler("batch-set"), set_projector,
                   Json([{"event_id": id_("s1"), "payload": {"amount": 1}}, {"event_id": id_("s2")}]))
    r.check(value(o) == 2 and await applied(id_("s1")) == 1 and await applied(id_("s2")) == 1,
            "a set projector applies the batch once", value(o) if o.error is None else code(o))

    o = await call("SELECT apply_with_offset_batch($1, $2, $3) AS applied", batch_apply, "public.drivers_project_plpgsql",
                   Json([{"event_id": id_("f1"), "payload": {"amount": 1}},
                         {"event_id": id_("f2"), "payload": {"amount": 1, "raise": "PX042"}}]))
    projector_error(o, "PX042", batch_apply, id_("f2"))
    r.check(await hashes(id_("f1"), batch_apply) == [] and await applied(id_("f1")) == 0 and await applied(id_("f2")) == 0,
            "a failed batch stores nothing, not even its first event")

    # --- which function each call reached ----------------------------------
    # With track_functions = 'all', pg_stat_xact_user_functions names every
    # function the transaction called, with its argument types.
    resolved = handler("resolved")
    async with d.transaction():
        await d.execute("SET LOCAL track_functions = 'all'")
        await call("SELECT apply_with_offset($1, $2, $3, $4) AS applied", id_("r1"), resolved, sql_projector, Json({"amount": 1}))
        await call("SELECT apply_with_offset($1, $2, $3) AS applied", id_("r2"), resolved, "public.drivers_project_sql")
        await call("SELECT apply_with_offset_batch($1, $2, $3) AS applied", resolved, sql_projector, Json([{"event_id": id_("r3")}]))
        await call("SELECT offset_claim($1, $2, $3) AS recorded", id_("r4"), resolved, "aaaa")
        await call("SELECT offset_claim_at($1, $2, $3) AS recorded", id_("r5"), resolved, 5)
        await call("SELECT id FROM offset_claim_batch($1, $2) AS id", [id_("r6")], resolved)
        rows = await d.query("""SELECT funcid::regprocedure::text AS fn, calls FROM pg_stat_xact_user_functions
                                 WHERE funcname IN ('apply_with_offset', 'apply_with_offset_batch', 'offset_claim',
                                                    'offset_claim_at', 'offset_claim_batch')
                                 ORDER BY 1""")
    found = [f"{row['fn']} x{row['calls']}" for row in rows]
    r.detach()
    r.check(found == [
        "apply_with_offset(text,text,text,jsonb) x2",
        "apply_with_offset_batch(text,text,jsonb) x1",
        "offset_claim(text,text,text) x1",
        "offset_claim_at(text,text,bigint,text) x1",
        "offset_claim_batch(text[],text) x1",
    ], "each call reached the function named for it; a projector string reached the text form (pg_stat_xact_user_functions)", found)

    # --- offset_replaying (one connection: the session) --------------------
    o = await call("SELECT offset_replaying() AS replaying")
    r.check(value(o) is False, "offset_replaying() is false by default", value(o) if o.error is None else code(o))
    await d.execute("SET projection_offset.replaying = on")
    o = await call("SELECT offset_replaying() AS replaying")
    r.check(value(o) is True, "offset_replaying() is true after SET projection_offset.replaying = on in the session",
            value(o) if o.error is None else code(o))
    await d.execute("RESET projection_offset.replaying")

    # --- release, checkpoint and prune, status, counters, reset ------------
    o = await call("SELECT offset_release($1, $2) AS released", id_("c1"), claims)
    r.check(value(o) is True and await hashes(id_("c1"), claims) == [], "offset_release forgets the offset",
            value(o) if o.error is None else code(o))
    o = await call("SELECT offset_release($1, $2) AS released", id_("c1"), claims)
    r.check(value(o) is False, "a second offset_release returns false", value(o) if o.error is None else code(o))

    o = await call("SELECT offset_checkpoint($1, $2) AS checkpoint", positioned, 150)
    r.check(value(o) == 150, "offset_checkpoint moves forward", value(o) if o.error is None else code(o))
    o = await call("SELECT offset_prune($1) AS pruned", positioned)
    r.check(value(o) == 1 and await hashes(id_("p150"), positioned) == [] and len(await hashes(id_("p151"), positioned)) == 1,
            "offset_prune(handler) removes the offsets at or below the checkpoint only", value(o) if o.error is None else code(o))
    o = await call("SELECT offset_claim_at($1, $2, $3) AS recorded", id_("p150"), positioned, 150)
    r.check(value(o) is False and await hashes(id_("p150"), positioned) == [],
            "a late re-delivery of a pruned event is still a duplicate and stores nothing", value(o) if o.error is None else code(o))
    o = await call('SELECT offsets, "checkpoint" FROM projection_offset_status WHERE handler_name = $1', positioned)
    status = o.rows[0] if o.rows else None
    r.check(status is not None and status["offsets"] == 1 and status["checkpoint"] == 150,
            "projection_offset_status shows 1 offset, checkpoint 150", status)

    in_an_hour = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    claims_left = await offset_count(claims)
    o = await call("SELECT offset_prune($1, $2) AS pruned", claims, in_an_hour)
    r.check(value(o) == claims_left and await offset_count(claims) == 0,
            "offset_prune(handler, older_than) removes the offsets applied before it", value(o) if o.error is None else code(o))

    counted = handler("counted")
    o = await api(True, "SELECT projection_offset_counters_reset()")
    r.check(o.error is None, "projection_offset_counters_reset() runs", code(o))
    await call("SELECT offset_claim($1, $2, $3) AS recorded", id_("k1"), counted, "aaaa")
    await call("SELECT offset_claim($1, $2, $3) AS recorded", id_("k1"), counted, "aaaa")
    await call("SELECT offset_claim($1, $2, $3) AS recorded", id_("k1"), counted, "bbbb")
    o = await call("SELECT claims, duplicates, divergences FROM projection_offset_counters() WHERE handler_name = $1", counted)
    c = o.rows[0] if o.rows else None
    r.check(c is not None and (c["claims"], c["duplicates"], c["divergences"]) == (1, 1, 1),
            "projection_offset_counters() counts 1 claim, 1 duplicate, 1 divergence", c if o.error is None else code(o))

    apply_offsets = await offset_count(apply)
    o = await call("SELECT offset_reset($1) AS removed", apply)
    r.check(value(o) == apply_offsets and apply_offsets > 0 and await offset_count(apply) == 0,
            "offset_reset removes every offset of the handler", value(o) if o.error is None else code(o))

    r.detach()
    ambiguous = [x for x in r.outcomes() if "42725" in x]
    r.check(not ambiguous, "no call shape above was ambiguous (42725)", ambiguous)


async def asyncpg_codec(r):
    """With a jsonb codec on the connection, asyncpg takes dicts and lists."""
    import asyncpg

    conn = await asyncpg.connect()
    try:
        await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
        sql = "SELECT apply_with_offset($1, $2, $3, $4) AS applied"
        applied = await conn.fetchval(sql, "asyncpg-j1", "asyncpg:codec", "public.drivers_project_sql(text,jsonb)", {"amount": 7})
        r.shape(sql, "str, str, str, dict (jsonb codec set)", show(applied))
        rows = await conn.fetchval("SELECT count(*) FROM drivers_applied WHERE event_id = $1 AND payload = $2",
                                   "asyncpg-j1", {"amount": 7})
        r.check(applied is True and rows == 1, "with set_type_codec('jsonb', encoder=json.dumps), a dict payload is applied once", rows)
        sql = "SELECT apply_with_offset_batch($1, $2, $3) AS applied"
        applied = await conn.fetchval(sql, "asyncpg:codec", "public.drivers_project_sql(text,jsonb)",
                                      [{"event_id": "asyncpg-j2", "payload": {"amount": 1}}])
        r.shape(sql, "str, str, list[dict] (jsonb codec set)", show(applied))
        r.check(applied == 1, "with the codec, a list of events is applied", applied)
    finally:
        await conn.close()


async def main(which):
    if which in ("psycopg", "psycopg-prepared"):
        d = Psycopg(prepare=(which == "psycopg-prepared"))
    elif which == "asyncpg":
        d = await Asyncpg().open()
    else:
        print("usage: drivers.py psycopg|psycopg-prepared|asyncpg", file=sys.stderr)
        return 2
    r = Report(d.name)
    try:
        await run_scenario(d, r)
        if which == "asyncpg":
            await asyncpg_codec(r)
    finally:
        await d.close()
    r.flush()
    return 0 if r.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else "")))
