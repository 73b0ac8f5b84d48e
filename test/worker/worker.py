#!/usr/bin/env python3
"""The projection worker and the handler registry, end to end.

Run by test/worker/suite.sh against a server started with
projection_offset.worker_databases naming PO_WORKER_DB. Every projector here
logs what it applied into applied_log (handler, event id, whether
offset_replaying() was on, its transaction id, its current_user), so that
each check reads what really happened:

  basic         an async handler applies every event once, in position order,
                those appended before its registration too, in transactions of
                the worker's own, as the registering role
  wakeup        with a naptime of an hour, an INSERT's and a COPY's commit wake
                the worker: their events are applied within the deadline
  inline        an inline handler applies in the appending transaction; while
                paused it does not, and the worker catches it up on resume
  commit_order  a transaction that drew a position and has not committed holds
                back every later position, whether it then commits or rolls
                back, whether it is idle or blocked inside its INSERT after
                drawing (a BEFORE trigger waiting on an advisory lock held
                here), and when it inserted straight into a partition
  errors        dead_letter parks an event after max_attempts with its error;
                projection_retry applies it once it is fixed; stop stops the
                handler on the event; projection_resume continues
  pause_rebuild a paused handler applies nothing new; the status view shows its
                lag; resume catches up; rebuild re-applies everything with
                offset_replaying() on and then runs live again
  stress        clients append concurrently with random commit delays and
                rollbacks: every committed event applied once per handler, in
                position order, nothing rolled back applied
  crash         the same load while the worker is killed (kill -9) and the
                server stopped immediately and restarted: nothing lost, nothing
                applied twice
  databases     a listed database that does not exist is reported once in the
                server log, with no worker failing in a loop; once created, it
                is served without a server restart. DROP DATABASE (without
                FORCE) and ALTER DATABASE RENAME of a served database succeed,
                and its worker does not come back; a DROP that fails leaves
                the database served again, and one by a role that does not
                own the database leaves its worker alone

"The worker has done a round" is established by events, not sleeps: a probe
handler on a source of its own applies an event appended after the moment
in question, twice in a row, so that a whole round of the worker began after
it. Waits poll with a deadline of PO_WORKER_DEADLINE seconds (default 60);
no check is about a duration. PO_FULL=1 runs a larger load and more crashes,
PO_SEED fixes the clients' random choices, PO_WORKER_SCENARIOS="stress crash"
runs only the scenarios named. Ends with "worker: N passed, N failed".
"""
import os
import random
import signal
import subprocess
import sys
import threading
import time
import traceback
import uuid

import psycopg
from psycopg.types.json import Jsonb

DB = os.environ.get("PO_WORKER_DB", "po_worker")
DEADLINE = float(os.environ.get("PO_WORKER_DEADLINE", "60"))
FULL = os.environ.get("PO_FULL", "0") not in ("", "0")
SEED = int(os.environ.get("PO_SEED") or random.randrange(1 << 30))
CRASH_CMD = os.environ.get("PO_WORKER_CRASH_CMD")
RESTART_CMD = os.environ.get("PO_WORKER_RESTART_CMD")
SERVER_LOG = os.environ.get("PO_WORKER_SERVER_LOG")
# Also named in worker_databases, and absent when the server starts.
LATE_DB = os.environ.get("PO_WORKER_LATE_DB")
DROP_DB = os.environ.get("PO_WORKER_DROP_DB")
LOCK_KEY = 4242  # the advisory lock a BEFORE INSERT trigger waits on

passed = 0
failed = 0


def check(ok, what, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok - {what}")
    else:
        failed += 1
        print(f"not ok - {what}")
        if detail:
            print(f"    {detail}")


def connect(autocommit=True):
    """A new session; waits for the server while it restarts."""
    end = time.monotonic() + DEADLINE
    while True:
        try:
            return psycopg.connect(dbname=DB, autocommit=autocommit)
        except psycopg.OperationalError:
            if time.monotonic() > end:
                raise
            time.sleep(0.1)


class Session:
    """The checking session. Reads are retried on a new connection when the
    server went away (a crash); writes are not, their outcome is unknown."""

    def __init__(self):
        self.conn = connect()

    def _fresh(self):
        if self.conn.closed or self.conn.broken:
            self.conn = connect()

    def rows(self, sql, params=None):
        end = time.monotonic() + DEADLINE
        while True:
            self._fresh()
            try:
                return self.conn.execute(sql, params).fetchall()
            except psycopg.OperationalError:
                if time.monotonic() > end:
                    raise
                self.conn.close()
                time.sleep(0.1)

    def one(self, sql, params=None):
        r = self.rows(sql, params)
        return r[0][0] if r else None

    def run(self, sql, params=None):
        self._fresh()
        self.conn.execute(sql, params)


db = None


def diagnostics():
    try:
        for r in db.rows("SELECT handler_name, state, \"position\", attempts, error_event, last_error "
                         "FROM projection_offset_handler ORDER BY 1"):
            print(f"    handler {r}")
        for r in db.rows("SELECT pid, backend_type, state, wait_event_type, wait_event, left(query, 80) "
                         "FROM pg_stat_activity WHERE backend_type LIKE 'projection_offset%'"):
            print(f"    worker {r}")
    except psycopg.Error as e:
        print(f"    (no diagnostics: {e})")
    if SERVER_LOG and os.path.exists(SERVER_LOG):
        with open(SERVER_LOG, errors="replace") as f:
            for line in f.readlines()[-15:]:
                print(f"    log: {line.rstrip()}")


def wait_until(condition, what):
    """Polls condition() until it is true; False (with diagnostics) after the deadline."""
    end = time.monotonic() + DEADLINE
    while True:
        if condition():
            return True
        if time.monotonic() > end:
            print(f"    gave up after {DEADLINE:.0f} s waiting for {what}")
            diagnostics()
            return False
        time.sleep(0.05)


# ---------------------------------------------------------------- fixtures

SCHEMA = """
CREATE TABLE applied_log (
    seq bigserial PRIMARY KEY,
    handler text NOT NULL,
    event_id text NOT NULL,
    replaying boolean NOT NULL,
    txid bigint NOT NULL,
    run_by name NOT NULL DEFAULT current_user,
    applied_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX ON applied_log (handler, event_id);
-- A row here: the handler's projector refuses the events marked "fail".
CREATE TABLE fault (handler text PRIMARY KEY);
-- A row here: the handler's projector sleeps that long per event.
CREATE TABLE slow (handler text PRIMARY KEY, seconds float8 NOT NULL);

CREATE FUNCTION log_applied(h text, ev text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF payload ? 'fail' AND EXISTS (SELECT 1 FROM fault f WHERE f.handler = h) THEN
        RAISE EXCEPTION 'projector refuses event %', ev USING ERRCODE = 'PZ001',
            DETAIL = 'the event is marked to fail', HINT = 'delete the fault row';
    END IF;
    PERFORM pg_sleep(s.seconds) FROM slow s WHERE s.handler = h;
    INSERT INTO applied_log (handler, event_id, replaying, txid)
    VALUES (h, ev, offset_replaying(), txid_current());
END $$;

-- On a source, for rows of type 'blocked': the INSERT has drawn its
-- position (column defaults come first) and waits for the test's lock.
CREATE FUNCTION block_on_advisory() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(4242);
    RETURN NEW;
END $$;

CREATE ROLE po_app LOGIN;
GRANT CREATE ON SCHEMA public TO po_app;
GRANT ALL ON ALL TABLES IN SCHEMA public TO po_app;
GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO po_app;
GRANT EXECUTE ON FUNCTION projection_register(text, regprocedure, regclass, text, text, text, text, text[],
                                              text, text, integer, integer) TO po_app;
"""

SOURCES = {}  # source table -> type of its id column


def make_source(name, id_type="uuid"):
    """An event table: position from a CACHE 1 identity sequence, and the
    appending transaction's id, to tell inline applies from the worker's."""
    db.run(f"""CREATE TABLE {name} (
        id {id_type} PRIMARY KEY,
        type text NOT NULL,
        payload jsonb NOT NULL,
        "position" bigint GENERATED ALWAYS AS IDENTITY,
        appended_txid bigint NOT NULL DEFAULT txid_current())""")
    db.run(f'CREATE INDEX ON {name} ("position")')
    SOURCES[name] = id_type


def make_projector(handler, shape="each"):
    if shape == "each":
        db.run(f"""CREATE FUNCTION proj_{handler}(event_id text, payload jsonb) RETURNS void
                   LANGUAGE plpgsql AS $$ BEGIN PERFORM log_applied('{handler}', event_id, payload); END $$""")
        return f"proj_{handler}(text,jsonb)"
    db.run(f"""CREATE FUNCTION proj_{handler}(event_ids text[], payloads jsonb[]) RETURNS void
               LANGUAGE plpgsql AS $$
               BEGIN
                   FOR i IN 1 .. coalesce(array_length(event_ids, 1), 0) LOOP
                       PERFORM log_applied('{handler}', event_ids[i], payloads[i]);
                   END LOOP;
               END $$""")
    return f"proj_{handler}(text[],jsonb[])"


OPTION_TYPES = {"event_types": "text[]", "mode": "text", "on_error": "text",
                "max_attempts": "integer", "batch_size": "integer"}


def register(handler, source, shape="each", **options):
    projector = make_projector(handler, shape)
    named = "".join(f", {k} => %({k})s::{OPTION_TYPES[k]}" for k in options)
    db.run(f"SELECT projection_register(%(h)s, %(p)s::regprocedure, %(s)s::regclass{named})",
           dict(h=handler, p=projector, s=source, **options))


def insert(conn, source, n=1, type="t", payload=None):
    """Appends n events in one statement of conn's transaction; [(id, position)]."""
    ids = [str(uuid.uuid4()) for _ in range(n)]
    return conn.execute(
        f'INSERT INTO {source} (id, type, payload) SELECT i::{SOURCES[source]}, %s, %s '
        f'FROM unnest(%s::text[]) WITH ORDINALITY AS u(i, o) ORDER BY o RETURNING id::text, "position"',
        (type, Jsonb(payload or {}), ids)).fetchall()


def append(source, n=1, type="t", payload=None):
    """Appends n events in a committed transaction of its own; [(id, position)]."""
    with connect(autocommit=False) as conn:
        rows = insert(conn, source, n, type, payload)
        conn.commit()
    return rows


def applied_counts(handler, ids):
    """How many times each of ids was applied by handler."""
    found = dict(db.rows("SELECT event_id, count(*) FROM applied_log WHERE handler = %s "
                         "AND event_id = ANY(%s) GROUP BY 1", (handler, list(ids))))
    return {i: found.get(i, 0) for i in ids}


def all_applied(handler, ids):
    return all(n >= 1 for n in applied_counts(handler, ids).values())


def none_applied(handler, ids):
    return all(n == 0 for n in applied_counts(handler, ids).values())


def missing(handler, source, types=None):
    return db.one(f"""SELECT count(*) FROM {source} e
                      WHERE (%(t)s::text[] IS NULL OR e.type = ANY(%(t)s))
                        AND NOT EXISTS (SELECT 1 FROM applied_log l
                                        WHERE l.handler = %(h)s AND l.event_id = e.id::text)""",
                  dict(h=handler, t=types))


def exactly_once(handler, source, types=None, what=None):
    """Checks that every event of source (of types) was applied once by
    handler, nothing else was, and in position order; also its offsets."""
    r = db.rows(f"""
        WITH ev AS (SELECT id::text AS id, "position" FROM {source}
                    WHERE %(t)s::text[] IS NULL OR type = ANY(%(t)s)),
             lg AS (SELECT event_id, count(*) AS n FROM applied_log WHERE handler = %(h)s GROUP BY 1)
        SELECT (SELECT count(*) FROM ev),
               (SELECT count(*) FROM ev LEFT JOIN lg ON lg.event_id = ev.id WHERE lg.event_id IS NULL),
               (SELECT count(*) FROM lg WHERE n > 1),
               (SELECT count(*) FROM lg LEFT JOIN ev ON ev.id = lg.event_id WHERE ev.id IS NULL),
               (SELECT count(*) FROM (SELECT ev."position" < lag(ev."position") OVER (ORDER BY l.seq) AS back
                                      FROM applied_log l JOIN ev ON ev.id = l.event_id
                                      WHERE l.handler = %(h)s) s WHERE back),
               (SELECT count(*) FROM projection_offset WHERE "handlerName" = %(h)s)""",
                dict(h=handler, t=types))[0]
    events, lost, twice, foreign, backwards, offsets = r
    ok = events > 0 and lost == 0 and twice == 0 and foreign == 0 and backwards == 0 and offsets == events
    check(ok, what or f"{handler}: every event applied once, in position order",
          f"events {events}, not applied {lost}, applied more than once {twice}, applied but not an event "
          f"of the source {foreign}, applied after a later position {backwards}, offsets {offsets}")
    return ok


def handler_row(handler):
    r = db.rows("SELECT state, \"position\", attempts, error_event, error_position, last_error, run_as::text "
                "FROM projection_offset_handler WHERE handler_name = %s", (handler,))
    keys = ("state", "position", "attempts", "error_event", "error_position", "last_error", "run_as")
    return dict(zip(keys, r[0])) if r else {}


def state(handler):
    return handler_row(handler).get("state")


def worker_pid():
    return db_worker(DB)


def db_worker(name):
    """The pid of the projection worker connected to database `name`, or None."""
    return db.one("SELECT pid FROM pg_stat_activity WHERE backend_type = 'projection_offset worker' "
                  "AND datname = %s ORDER BY backend_start DESC LIMIT 1", (name,))


def worker_round():
    """Returns once a whole round of the worker began after the call: the
    probe handler applied an event appended after the call, then another
    appended after that one was applied."""
    for _ in range(2):
        ids = [i for i, _ in append("ev_probe")]
        if not wait_until(lambda: all_applied("probe", ids), "the probe handler"):
            return False
    return True


# --------------------------------------------------------------- scenarios

def scenario_basic():
    make_source("ev_basic")
    before = append("ev_basic", 2)
    register("basic", "ev_basic")
    after = append("ev_basic", 3)
    ids = [i for i, _ in before + after]
    wait_until(lambda: all_applied("basic", ids), "the basic handler")
    exactly_once("basic", "ev_basic",
                 what="basic: every event applied once, in position order, those appended before registration too")
    r = db.rows("""SELECT count(*) FILTER (WHERE l.replaying), count(*) FILTER (WHERE l.txid = e.appended_txid)
                   FROM applied_log l JOIN ev_basic e ON e.id::text = l.event_id WHERE l.handler = 'basic'""")[0]
    check(r == (0, 0), "basic: applied in the worker's own transactions, offset_replaying() off",
          f"replaying {r[0]}, in the appending transaction {r[1]}")
    last = max(p for _, p in after)
    cursor = handler_row("basic").get("position")
    lag = db.one("SELECT lag_events FROM projection_offset_status WHERE handler_name = 'basic'")
    check(cursor == last and lag == 0, "basic: the cursor is at the last position, lag_events 0",
          f"cursor {cursor}, last position {last}, lag_events {lag}")

    # The projector runs as the role that registered the handler.
    db.run("SET ROLE po_app")
    try:
        make_source("ev_app", id_type="text")
        register("app", "ev_app")
    finally:
        db.run("RESET ROLE")
    ids = [i for i, _ in append("ev_app", 2)]
    wait_until(lambda: all_applied("app", ids), "the handler registered by po_app")
    run_by = db.rows("SELECT DISTINCT run_by::text FROM applied_log WHERE handler = 'app'")
    run_as = handler_row("app").get("run_as")
    check(run_as == "po_app" and run_by == [("po_app",)],
          "basic: the worker runs the projector as the registering role (text ids)",
          f"run_as {run_as}, projector's current_user {run_by}")


def scenario_inline():
    make_source("ev_inline")
    register("inline", "ev_inline", mode="inline")
    with connect(autocommit=False) as conn:
        ids = [i for i, _ in insert(conn, "ev_inline", 2)]
        conn.commit()
    # No wait: the appending transaction applied them.
    n = db.one("""SELECT count(*) FROM applied_log l JOIN ev_inline e ON e.id::text = l.event_id
                  WHERE l.handler = 'inline' AND l.event_id = ANY(%s) AND l.txid = e.appended_txid
                    AND NOT l.replaying""", (ids,))
    check(n == 2, "inline: applied in the appending transaction, visible at its commit", f"{n} of 2")

    db.run("SELECT projection_pause('inline')")
    paused = [i for i, _ in append("ev_inline", 2)]
    held = none_applied("inline", paused)
    worker_round()
    check(held and none_applied("inline", paused), "inline: a paused inline handler applies nothing, nor does the worker")
    db.run("SELECT projection_resume('inline')")
    wait_until(lambda: all_applied("inline", paused), "the worker catching the inline handler up")
    n = db.one("""SELECT count(*) FROM applied_log l JOIN ev_inline e ON e.id::text = l.event_id
                  WHERE l.handler = 'inline' AND l.event_id = ANY(%s) AND l.txid <> e.appended_txid""", (paused,))
    check(n == 2, "inline: after resume the worker applies what was appended while paused", f"{n} of 2")
    later = [i for i, _ in append("ev_inline", 1)]
    check(all_applied("inline", later), "inline: applied inline again after resume")
    exactly_once("inline", "ev_inline")


def scenario_wakeup():
    """With a naptime of an hour, only the wake-up at the appending
    transaction's end can bring the worker within the deadline."""
    make_source("ev_wake")
    register("wake", "ev_wake")
    db.run("ALTER SYSTEM SET projection_offset.worker_naptime = '1h'")
    db.run("SELECT pg_reload_conf()")
    try:
        # Two probe rounds: the worker has gone through its loop, and read
        # the new setting, since the reload.
        worker_round()
        ids = [i for i, _ in append("ev_wake", 2)]
        check(wait_until(lambda: all_applied("wake", ids), "the woken worker"),
              "wake-up: an INSERT's commit wakes the worker (naptime 1 h)")
        copied = [str(uuid.uuid4()) for _ in range(2)]
        with connect(autocommit=False) as conn:
            with conn.cursor().copy("COPY ev_wake (id, type, payload) FROM STDIN") as copy:
                for i in copied:
                    copy.write_row((i, "t", "{}"))
            conn.commit()
        check(wait_until(lambda: all_applied("wake", copied), "the woken worker"),
              "wake-up: a COPY's commit wakes the worker (naptime 1 h)")
        exactly_once("wake", "ev_wake")
    finally:
        db.run("ALTER SYSTEM RESET projection_offset.worker_naptime")
        db.run("SELECT pg_reload_conf()")


def held_back(handler, ids, what):
    """Checks, after a whole round of the worker, that none of ids is applied."""
    round_done = worker_round()
    counts = applied_counts(handler, ids)
    check(round_done and all(n == 0 for n in counts.values()), what,
          f"applied: {sum(1 for n in counts.values() if n)} of {len(ids)}")


def scenario_commit_order():
    make_source("ev_order")
    db.run("""CREATE TRIGGER block BEFORE INSERT ON ev_order FOR EACH ROW
              WHEN (NEW.type = 'blocked') EXECUTE FUNCTION block_on_advisory()""")
    register("order", "ev_order")
    first = [i for i, _ in append("ev_order", 1)]
    wait_until(lambda: all_applied("order", first), "the first event")

    # An earlier position still open; later ones committed.
    a = connect(autocommit=False)
    a_rows = insert(a, "ev_order", 1)
    b_rows = append("ev_order", 3)
    later = [i for i, _ in b_rows]
    held_back("order", later + [a_rows[0][0]],
              "commit order: positions after an open transaction's are not applied")
    a.commit()
    a.close()
    wait_until(lambda: all_applied("order", later + [a_rows[0][0]]), "the held-back events")
    exactly_once("order", "ev_order", what="commit order: once it commits, all applied once, in position order")

    # The same, rolled back: its gap must not stall the handler.
    a = connect(autocommit=False)
    a_rows = insert(a, "ev_order", 1)
    later = [i for i, _ in append("ev_order", 3)]
    held_back("order", later, "commit order: positions after an open transaction's are not applied (rollback case)")
    a.rollback()
    a.close()
    ok = wait_until(lambda: all_applied("order", later), "the events after the rolled-back one")
    check(ok and none_applied("order", [a_rows[0][0]]), "commit order: after a rollback the rest is applied, the gap skipped")
    exactly_once("order", "ev_order", what="commit order: after the rollback, all applied once, in position order")

    # Blocked inside its INSERT after drawing its position.
    locker = connect()
    locker.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
    result = {}

    def blocked_insert():
        try:
            with connect() as c:
                result["rows"] = insert(c, "ev_order", 1, type="blocked")
        except Exception as e:
            result["error"] = e

    t = threading.Thread(target=blocked_insert)
    t.start()
    waiting = wait_until(lambda: db.one("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                                        "AND objid = %s::oid AND NOT granted", (LOCK_KEY,)) == 1,
                         "the INSERT to wait on the advisory lock")
    later_rows = append("ev_order", 3)
    later = [i for i, _ in later_rows]
    held_back("order", later, "commit order: positions after an INSERT blocked after drawing its own are not applied")
    locker.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))
    locker.close()
    t.join(DEADLINE)
    blocked = result.get("rows") or [(None, None)]
    check(waiting and blocked[0][1] is not None and blocked[0][1] < min(p for _, p in later_rows),
          "commit order: the blocked INSERT had drawn a position below the later ones (test set-up)",
          f"blocked insert: {result}, later positions {[p for _, p in later_rows]}")
    wait_until(lambda: all_applied("order", later + [blocked[0][0]]), "the events after the blocked INSERT")
    exactly_once("order", "ev_order", what="commit order: after the blocked INSERT, all applied once, in position order")

    # A partitioned source, the open transaction inserting straight into a
    # partition: it locks the partition, not the parent.
    db.run("""CREATE TABLE ev_part (
                  id uuid NOT NULL, type text NOT NULL, payload jsonb NOT NULL,
                  "position" bigserial NOT NULL, appended_txid bigint NOT NULL DEFAULT txid_current(),
                  PRIMARY KEY (id, type)) PARTITION BY LIST (type)""")
    db.run("CREATE TABLE ev_part_x PARTITION OF ev_part FOR VALUES IN ('x')")
    db.run("CREATE TABLE ev_part_y PARTITION OF ev_part FOR VALUES IN ('y')")
    SOURCES["ev_part"] = SOURCES["ev_part_x"] = "uuid"
    register("part", "ev_part")
    a = connect(autocommit=False)
    a_rows = insert(a, "ev_part_x", 1, type="x")
    b_rows = append("ev_part", 3, type="y")
    later = [i for i, _ in b_rows]
    check(a_rows[0][1] < min(p for _, p in b_rows), "commit order: a partition draws from the parent's sequence (test set-up)")
    held_back("part", later, "commit order: positions after a transaction open on a partition are not applied")
    a.commit()
    a.close()
    wait_until(lambda: all_applied("part", later + [a_rows[0][0]]), "the partitioned source's events")
    exactly_once("part", "ev_part", what="commit order: partitioned source, all applied once, in position order")


def scenario_errors():
    make_source("ev_errors")
    db.run("INSERT INTO fault VALUES ('dead'), ('stopper')")

    # dead_letter: parked after max_attempts, the next events go on.
    register("dead", "ev_errors", on_error="dead_letter", max_attempts=3)
    register("stopper", "ev_errors", on_error="stop", max_attempts=2)
    e1 = append("ev_errors", 1)
    bad = append("ev_errors", 1, payload={"fail": True})
    e3 = append("ev_errors", 1)
    bad_id, bad_pos = bad[0]
    ok_ids = [e1[0][0], e3[0][0]]
    wait_until(lambda: all_applied("dead", ok_ids), "the events around the failing one")
    dl = db.rows("""SELECT "position", sqlstate, message, detail, hint, context, attempts, first_failure < last_failure
                    FROM projection_offset_dead_letter WHERE handler_name = 'dead' AND event_id = %s""", (bad_id,))
    got = dl[0] if dl else None
    check(got is not None and got[0] == bad_pos and got[1] == "PZ001" and got[2] == f"projector refuses event {bad_id}"
          and got[3] == "the event is marked to fail" and got[4] == "delete the fault row"
          and "log_applied" in (got[5] or "") and got[6] == 3 and got[7],
          "dead letter: the event parked after 3 attempts with its error, context and first/last failure", f"row {got}")
    offsets = db.one("SELECT count(*) FROM projection_offset WHERE \"handlerName\" = 'dead' AND \"eventId\" = %s", (bad_id,))
    row = handler_row("dead")
    check(none_applied("dead", [bad_id]) and offsets == 0 and row.get("state") == "running"
          and (row.get("position") or 0) >= e3[0][1],
          "dead letter: nothing of the parked event written, the handler runs on past it",
          f"offsets {offsets}, handler {row}")
    try:
        db.run("SELECT projection_retry('dead', %s)", (bad_id,))
        code = None
    except psycopg.Error as e:
        code = e.sqlstate
    still = db.one("SELECT count(*) FROM projection_offset_dead_letter WHERE handler_name = 'dead' AND event_id = %s", (bad_id,))
    check(code == "PZ001" and still == 1, "dead letter: a retry that fails again raises the projector's error and keeps the row",
          f"sqlstate {code}, dead letter rows {still}")
    db.run("DELETE FROM fault WHERE handler = 'dead'")
    retried = db.one("SELECT projection_retry('dead', %s)", (bad_id,))
    gone = db.one("SELECT count(*) FROM projection_offset_dead_letter WHERE handler_name = 'dead'")
    worker_round()
    counts = applied_counts("dead", [bad_id] + ok_ids)
    check(retried is True and gone == 0 and all(n == 1 for n in counts.values()),
          "dead letter: once fixed, projection_retry applies it once and deletes the row",
          f"retry returned {retried}, dead letters left {gone}, applied {counts}")

    # stop: the handler stops on the event, later ones wait.
    wait_until(lambda: state("stopper") == "stopped", "the stop handler to stop")
    row = handler_row("stopper")
    err = row.get("last_error") or {}
    check(row.get("state") == "stopped" and row.get("error_event") == bad_id and row.get("error_position") == bad_pos
          and row.get("attempts") == 2 and err.get("sqlstate") == "PZ001"
          and err.get("message") == f"projector refuses event {bad_id}" and (row.get("position") or 0) < bad_pos,
          "stop: stopped on the event after 2 attempts, last_error set, cursor before it", f"handler {row}")
    worker_round()
    check(state("stopper") == "stopped" and all_applied("stopper", [e1[0][0]]) and none_applied("stopper", [bad_id, e3[0][0]]),
          "stop: a stopped handler applies nothing after the event")
    db.run("DELETE FROM fault WHERE handler = 'stopper'")
    db.run("SELECT projection_resume('stopper')")
    wait_until(lambda: all_applied("stopper", [bad_id, e3[0][0]]), "the resumed handler")
    check(state("stopper") == "running", "stop: running again after projection_resume")
    exactly_once("stopper", "ev_errors", what="stop: after resume, every event applied once, in position order")


def status(handler):
    r = db.rows('SELECT state, "position", lag_events FROM projection_offset_status WHERE handler_name = %s', (handler,))
    return r[0] if r else None


def scenario_pause_rebuild():
    make_source("ev_pause")
    register("pauser", "ev_pause")
    first = append("ev_pause", 3)
    wait_until(lambda: all_applied("pauser", [i for i, _ in first]), "the first events")
    db.run("SELECT projection_pause('pauser')")
    pending = [i for i, _ in append("ev_pause", 4)]
    held_back("pauser", pending, "pause: a paused handler applies nothing new")
    st = status("pauser")
    check(st == ("paused", max(p for _, p in first), 4),
          "status: a paused handler with 4 pending events shows state, position and lag_events 4",
          f"(state, position, lag_events) = {st}")
    db.run("SELECT projection_resume('pauser')")
    wait_until(lambda: all_applied("pauser", pending), "the resumed handler")
    exactly_once("pauser", "ev_pause", what="resume: catches up, every event applied once, in position order")

    # Rebuild: the read model is cleared in the same transaction.
    top = db.one('SELECT max("position") FROM ev_pause')
    with connect(autocommit=False) as conn:
        conn.execute("DELETE FROM applied_log WHERE handler = 'pauser'")
        conn.execute("SELECT projection_rebuild('pauser')")
        r = conn.execute("SELECT state, \"position\", rebuild_target FROM projection_offset_handler "
                         "WHERE handler_name = 'pauser'").fetchone()
        conn.commit()
    check(r == ("rebuilding", None, top), "rebuild: state rebuilding, cursor reset, target the last position",
          f"(state, position, rebuild_target) = {r}")
    seen = {}

    def running_with_count():
        seen["r"] = db.rows("SELECT state, (SELECT count(*) FROM applied_log WHERE handler = 'pauser') "
                            "FROM projection_offset_handler WHERE handler_name = 'pauser'")[0]
        return seen["r"][0] == "running"

    wait_until(running_with_count, "the rebuild to end")
    check(seen.get("r") == ("running", 7), "rebuild: state running again once every event is re-applied",
          f"(state, events applied) = {seen.get('r')}")
    replayed = db.one("SELECT count(*) FROM applied_log WHERE handler = 'pauser' AND replaying")
    check(replayed == 7, "rebuild: offset_replaying() on in the projector for every re-applied event", f"{replayed} of 7")
    exactly_once("pauser", "ev_pause", what="rebuild: every event re-applied once, in position order")
    new = [i for i, _ in append("ev_pause", 1)]
    wait_until(lambda: all_applied("pauser", new), "a new event after the rebuild")
    live = db.one("SELECT count(*) FROM applied_log WHERE handler = 'pauser' AND event_id = %s AND NOT replaying", (new[0],))
    check(live == 1, "rebuild: events after it applied live, offset_replaying() off")


class Appenders:
    """Clients appending events in transactions of one or two statements of
    one or two events, committed after a random delay or rolled back (10 %),
    reconnecting when the server went away. acked: ids whose COMMIT
    returned; rolled: ids rolled back, or in a transaction a crash ended
    before its COMMIT; in_doubt: ids whose COMMIT's answer was lost."""

    def __init__(self, source, clients, transactions=None, max_delay=0.02):
        self.source, self.transactions, self.max_delay = source, transactions, max_delay
        self.acked, self.rolled, self.in_doubt, self.errors = set(), set(), set(), []
        self.disconnects = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self.client, args=(SEED + n,)) for n in range(clients)]
        for t in self.threads:
            t.start()

    def client(self, seed):
        rnd = random.Random(seed)
        conn, done = None, 0
        while not self.stopping.is_set() and (self.transactions is None or done < self.transactions):
            ids, committing = [], False
            if conn is None:
                try:
                    conn = connect(autocommit=False)
                except psycopg.OperationalError as e:
                    with self.lock:
                        self.errors.append(f"no connection for {DEADLINE:.0f} s: {e}")
                    return
            try:
                for _ in range(rnd.randint(1, 2)):
                    ids += [i for i, _ in insert(conn, self.source, rnd.randint(1, 2), type=rnd.choice("ab"))]
                time.sleep(rnd.random() * self.max_delay)
                if rnd.random() < 0.1:
                    conn.rollback()
                    with self.lock:
                        self.rolled.update(ids)
                else:
                    committing = True
                    conn.commit()
                    with self.lock:
                        self.acked.update(ids)
                done += 1
            except psycopg.OperationalError:
                with self.lock:
                    (self.in_doubt if committing else self.rolled).update(ids)
                    self.disconnects += 1
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.05)
            except psycopg.Error as e:
                with self.lock:
                    self.errors.append(f"{e.sqlstate}: {e}")
                conn.rollback()
                done += 1
        if conn is not None:
            conn.close()

    def acked_count(self):
        with self.lock:
            return len(self.acked)

    def finish(self):
        self.stopping.set()
        for t in self.threads:
            t.join()


def check_load(label, ap, source, handlers, crashes=False):
    """After a load: the clients' view against the table, then each handler."""
    present = {i for (i,) in db.rows(f"SELECT id::text FROM {source}")}
    lost = ap.acked - present
    resurrected = ap.rolled & present
    print(f"    {label}: {len(ap.acked)} events committed, {len(ap.rolled)} rolled back, "
          f"{len(ap.in_doubt)} in doubt ({len(ap.in_doubt & present)} of them committed), {len(present)} in the table, "
          f"{ap.disconnects} connections lost")
    if not crashes:
        ap.errors += [f"{ap.disconnects} connections lost"] if ap.disconnects else []
    check(not ap.errors and not lost and not resurrected and ap.acked,
          f"{label}: every acknowledged event is in the table, no rolled-back one, no client error",
          f"lost {len(lost)}, rolled back but present {len(resurrected)}, errors {ap.errors[:3]}")
    for handler, types in handlers:
        wait_until(lambda: missing(handler, source, types) == 0, f"{handler} to catch up")
        exactly_once(handler, source, types, what=f"{label}: {handler}: every committed event applied once, in position order")
    rolled_applied = db.one("SELECT count(*) FROM applied_log WHERE event_id = ANY(%s)", (list(ap.rolled),))
    check(rolled_applied == 0, f"{label}: no rolled-back event applied", f"{rolled_applied} applied")


def scenario_stress():
    make_source("ev_stress")
    register("stress_each", "ev_stress", batch_size=50)
    register("stress_set", "ev_stress", shape="set", batch_size=200)
    register("stress_typed", "ev_stress", event_types=["a"])
    ap = Appenders("ev_stress", clients=6, transactions=1500 if FULL else 250)
    for t in ap.threads:
        t.join()
    check_load("stress", ap, "ev_stress", [("stress_each", None), ("stress_set", None), ("stress_typed", ["a"])])
    lags = db.rows("SELECT handler_name, lag_events FROM projection_offset_status "
                   "WHERE handler_name LIKE 'stress%' ORDER BY 1")
    check(len(lags) == 3 and all(lag == 0 for _, lag in lags), "stress: lag_events 0 once caught up", f"{lags}")


def recoveries():
    """Crash recoveries in the server log (None without a log)."""
    if not SERVER_LOG:
        return None
    with open(SERVER_LOG, errors="replace") as f:
        return sum("automatic recovery in progress" in line for line in f)


def scenario_crash():
    make_source("ev_crash")
    register("crash_each", "ev_crash", batch_size=50)
    register("crash_set", "ev_crash", shape="set", batch_size=100)
    # 1 ms per event: the worker is mid-batch most of the time.
    db.run("INSERT INTO slow VALUES ('crash_each', 0.001)")
    kills, stops = (6, 4) if FULL else (3, 2)
    recoveries_before = recoveries()
    ap = Appenders("ev_crash", clients=4)
    try:
        for n in range(kills + stops):
            target = ap.acked_count() + 200
            wait_until(lambda: ap.acked_count() >= target, "the clients to append")
            applied = db.one("SELECT count(*) FROM applied_log WHERE handler = 'crash_each'")
            if n < kills:
                pid = worker_pid()
                if pid:
                    os.kill(pid, signal.SIGKILL)
                what = f"kill -9 of the worker (pid {pid})"
            else:
                pid = None
                subprocess.run(CRASH_CMD, shell=True, check=True, stdout=subprocess.DEVNULL)
                subprocess.run(RESTART_CMD, shell=True, check=True, stdout=subprocess.DEVNULL)
                what = "immediate shutdown and restart"
            print(f"    {what} with {ap.acked_count()} events committed, {applied} applied by crash_each")
            back = wait_until(lambda: worker_pid() not in (None, pid), "the worker to come back")
            check(back, f"crash: the worker is back after {what}")
    finally:
        ap.finish()
    n = recoveries() - recoveries_before
    check(n == kills + stops, "crash: the server log shows one crash recovery per kill and per immediate shutdown",
          f"{n} recoveries, {kills + stops} expected")
    check_load("crash", ap, "ev_crash", [("crash_each", None), ("crash_set", None)], crashes=True)


def log_lines(*needles):
    """The lines of the server log since the server last started (the
    launcher with it) that contain every needle."""
    with open(SERVER_LOG, errors="replace") as f:
        lines = f.readlines()
    starts = [i for i, line in enumerate(lines)
              if "starting PostgreSQL" in line or "all server processes terminated; reinitializing" in line]
    since = lines[starts[-1]:] if starts else lines
    return [line.rstrip() for line in since if all(n in line for n in needles)]


def serve(name):
    """In database `name`: the extension, an event table and an async
    handler that records each event it applies in table seen."""
    with psycopg.connect(dbname=name, autocommit=True) as c:
        c.execute("CREATE EXTENSION projection_offset")
        c.execute('CREATE TABLE ev (id uuid PRIMARY KEY, type text NOT NULL, payload jsonb NOT NULL, '
                  '"position" bigint GENERATED ALWAYS AS IDENTITY)')
        c.execute("CREATE TABLE seen (event_id text PRIMARY KEY)")
        c.execute("CREATE FUNCTION proj(event_id text, payload jsonb) RETURNS void LANGUAGE sql "
                  "AS $$ INSERT INTO seen VALUES (event_id) $$")
        c.execute("SELECT projection_register('seen', 'proj(text,jsonb)'::regprocedure, 'ev'::regclass)")


def applied_in(name, n=3):
    """Appends n events in database `name`; whether its worker applies them."""
    with psycopg.connect(dbname=name, autocommit=True) as c:
        ids = [r[0] for r in c.execute("INSERT INTO ev (id, type, payload) SELECT gen_random_uuid(), 't', '{}' "
                                       "FROM generate_series(1, %s) RETURNING id::text", (n,))]

    def seen():
        with psycopg.connect(dbname=name, autocommit=True) as c:
            return c.execute("SELECT count(*) FROM seen WHERE event_id = ANY(%s)", (ids,)).fetchone()[0] == n
    return wait_until(seen, f"the worker of {name} to apply its events")


def scenario_databases():
    if not (LATE_DB and DROP_DB and SERVER_LOG):
        check(False, "databases: PO_WORKER_LATE_DB, PO_WORKER_DROP_DB and PO_WORKER_SERVER_LOG are set")
        return
    missing = 'named in projection_offset.worker_databases does not exist'
    late_missing = f'database "{LATE_DB}" {missing}'
    ok = wait_until(lambda: log_lines(late_missing), "the launcher to report the missing database")
    hinted = [l for l in log_lines("HINT:") if "remove it from projection_offset.worker_databases" in l]
    check(ok and hinted, "databases: a listed database that does not exist is reported, with a hint naming the setting")
    admin = psycopg.connect(dbname="postgres", autocommit=True)
    try:
        # Each worker coming up below shows that the launcher looked at the
        # catalog again, the missing database too.
        drops = 0
        for n in range(3):
            admin.execute(f"CREATE DATABASE {DROP_DB}")
            up = wait_until(lambda: db_worker(DROP_DB) is not None, f"the worker of {DROP_DB}")
            if n == 0:
                serve(DROP_DB)
                check(up and applied_in(DROP_DB),
                      "databases: a listed database created after server start is served, without a restart")
            admin.execute(f"DROP DATABASE {DROP_DB}")
            drops += 1
        check(drops == 3 and db_worker(DROP_DB) is None,
              "databases: DROP DATABASE (without FORCE) of a served database succeeds, 3 times of 3")

        # A DROP that fails: the worker comes back.
        admin.execute(f"CREATE DATABASE {DROP_DB}")
        wait_until(lambda: db_worker(DROP_DB) is not None, f"the worker of {DROP_DB}")
        before = db_worker(DROP_DB)
        denied = None
        with psycopg.connect(dbname="postgres", user="po_app", autocommit=True) as other:
            try:
                other.execute(f"DROP DATABASE {DROP_DB}")
            except psycopg.errors.InsufficientPrivilege as e:
                denied = e
        check(denied is not None and before is not None and db_worker(DROP_DB) == before,
              "databases: DROP DATABASE by a role that does not own the database fails and leaves its worker running")
        error = None
        with psycopg.connect(dbname=DROP_DB, autocommit=True):
            try:
                admin.execute(f"DROP DATABASE {DROP_DB}")
            except psycopg.errors.ObjectInUse as e:
                error = e
        back = wait_until(lambda: db_worker(DROP_DB) not in (None, before), f"the worker of {DROP_DB} to come back")
        check(error is not None and back,
              "databases: after a DROP DATABASE that fails (another session), the worker serves the database again",
              f"error {error!r}, worker back {back}")

        # RENAME: the listed name is gone, then back.
        renamed = DROP_DB + "_renamed"
        admin.execute(f"ALTER DATABASE {DROP_DB} RENAME TO {renamed}")
        gone = db_worker(DROP_DB) is None and db_worker(renamed) is None
        admin.execute(f"ALTER DATABASE {renamed} RENAME TO {DROP_DB}")
        back = wait_until(lambda: db_worker(DROP_DB) is not None, f"the worker of {DROP_DB} after the rename back")
        check(gone and back, "databases: ALTER DATABASE RENAME of a served database succeeds; renamed back, it is served")
        admin.execute(f"DROP DATABASE {DROP_DB}")
        drops += 1

        # Created last, so that its worker starting shows a look at the
        # catalog after the last DROP.
        admin.execute(f"CREATE DATABASE {LATE_DB}")
        serve(LATE_DB)
        up = wait_until(lambda: db_worker(LATE_DB) is not None, f"the worker of {LATE_DB}")
        check(up and applied_in(LATE_DB),
              "databases: the missing database, once created, is served without a server restart")
    finally:
        admin.close()

    said = log_lines(late_missing)
    fatal = log_lines("FATAL", LATE_DB)
    check(len(said) == 1 and not fatal,
          "databases: the missing database was reported once, and no worker failed for it",
          f"{len(said)} reports, FATAL lines: {fatal[:3]}")
    # Six starts: three creations, the one after the failed DROP, the one
    # before it, and the one after the rename back.
    started = log_lines(f'projection worker started for database "{DROP_DB}"')
    failed = [l for l in log_lines("FATAL", DROP_DB) if "due to administrator command" not in l]
    reported = log_lines(f'database "{DROP_DB}" {missing}')
    check(len(started) == 6 and not failed and len(reported) <= drops + 2,
          "databases: no restart loop: one worker start per creation or failed DROP, none after a DROP, "
          "at most one report per disappearance",
          f"{len(started)} starts, {len(reported)} reports for {drops} drops, other FATAL lines: {failed[:3]}")


SCENARIOS = [scenario_basic, scenario_wakeup, scenario_inline, scenario_commit_order, scenario_errors,
             scenario_pause_rebuild, scenario_stress, scenario_crash, scenario_databases]


def main():
    global db
    print(f"worker: seed {SEED}")
    db = Session()
    db.run(SCHEMA)
    make_source("ev_probe")
    register("probe", "ev_probe")
    check(wait_until(lambda: worker_pid() is not None, "the worker in pg_stat_activity"),
          "the projection worker runs (pg_stat_activity backend_type projection_offset...)")
    # Without a worker that applies anything, every scenario would only wait
    # for its deadlines.
    if not worker_round():
        check(False, "the worker applies the probe handler's events; the scenarios are not run")
        print(f"worker: {passed} passed, {failed} failed")
        return 1
    chosen = os.environ.get("PO_WORKER_SCENARIOS", "").split()
    for scenario in SCENARIOS:
        if chosen and scenario.__name__[len("scenario_"):] not in chosen:
            continue
        print(f"-- {scenario.__name__[len('scenario_'):]}")
        try:
            scenario()
        except Exception:
            check(False, f"{scenario.__name__} ran to its end", traceback.format_exc().replace("\n", "\n    "))
            db.conn.close()
            db.conn = connect()
    print(f"worker: {passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
