#!/usr/bin/env python3
"""How fast large batches answer a cancel (statement_timeout).

Each case runs apply_with_offset_batch over 400,000 events or
offset_claim_batch over 600,000 ids under a statement_timeout, fresh or as a
re-delivery. A statement either ends before its timeout or is canceled with
SQLSTATE 57014; the latency of a cancel is the time from the timeout to the
error reaching the client. Timeouts are spread (50 ms to 1.6 s, to 6.4 s
with PO_FULL=1; a fresh apply of the 400,000 events takes about 3 s on 2
vCPUs) so that cancels arrive in the different phases: reading the events,
sorting the ids, the claim statements, the comparison of re-deliveries,
building a set projector's arrays, and the loop over the projector. The per-event projector is jsonb_typeof(jsonb), a C function
that never checks for interrupts itself, so that the loop's own check is
what answers.

Prints every case with its timeout, outcome and latency. The check, kept
generous so that a slow or loaded machine passes: every statement ends with
57014 or completes, and no cancel takes longer than PO_CANCEL_BOUND_MS
(default 1000 ms; answered cancels take tens of milliseconds, a loop that
never checks takes seconds). The final line is "cancel: N passed, N failed".
"""
import os
import sys
import time

import psycopg

DB = "po_cancel"
BOUND_MS = float(os.environ.get("PO_CANCEL_BOUND_MS", "1000"))
EVENTS = int(os.environ.get("PO_CANCEL_EVENTS", "400000"))
IDS = int(os.environ.get("PO_CANCEL_IDS", "600000"))

APPLY_EACH = "SELECT apply_with_offset_batch('cancel', 'jsonb_typeof(jsonb)'::regprocedure, (SELECT events FROM cancel_events))"
APPLY_SET = ("SELECT apply_with_offset_batch('cancel', 'cancel_set(text[],jsonb[])'::regprocedure, "
             "(SELECT events FROM cancel_events))")
CLAIM = "SELECT count(*) FROM offset_claim_batch((SELECT ids FROM cancel_ids), 'cancel')"

# (label, statement, recorded beforehand, timeouts in ms, more with PO_FULL)
CASES = [
    ("apply, fresh", APPLY_EACH, False, [50, 200, 800, 1600], [100, 400, 2400, 6400]),
    ("apply, re-delivery", APPLY_EACH, True, [50, 800, 1600], [200, 400, 6400]),
    ("apply, set projector", APPLY_SET, False, [50, 1600], [400, 3200, 6400]),
    ("claim, fresh", CLAIM, False, [100, 800, 1600], [200, 400, 2400, 6400]),
    ("claim, re-delivery", CLAIM, True, [100, 1600], [400, 3200]),
]
FULL = bool(os.environ.get("PO_FULL"))

passed = 0
failed = 0


def setup(admin):
    admin.execute(f"DROP DATABASE IF EXISTS {DB}")
    admin.execute(f"CREATE DATABASE {DB}")
    conn = psycopg.connect(dbname=DB, autocommit=True)
    conn.execute("CREATE EXTENSION projection_offset")
    conn.execute("CREATE FUNCTION cancel_set(event_ids text[], payloads jsonb[]) RETURNS void "
                 "LANGUAGE sql AS $$ SELECT $$")
    conn.execute("CREATE TABLE cancel_events AS SELECT jsonb_agg(jsonb_build_object("
                 "'event_id', 'e-' || g, 'payload', jsonb_build_object('n', g, 'text', repeat('payload ' || g, 20)))) AS events "
                 f"FROM generate_series(1, {EVENTS}) g")
    conn.execute(f"CREATE TABLE cancel_ids AS SELECT array_agg('i-' || g) AS ids FROM generate_series(1, {IDS}) g")
    return conn


def no_timeout(conn):
    # A statement timeout that fires as the statement ends is PostgreSQL's to
    # deliver to the next statement: then this SET is canceled, and is sent
    # again.
    try:
        conn.execute("SET statement_timeout = 0")
    except psycopg.errors.QueryCanceled:
        conn.execute("SET statement_timeout = 0")


def run_case(conn, label, statement, recorded, timeout_ms):
    global passed, failed
    no_timeout(conn)
    # A canceled statement records nothing: the state it starts from stays.
    if not recorded:
        conn.execute("TRUNCATE projection_offset")
    conn.execute(f"SET statement_timeout = {timeout_ms}")
    start = time.monotonic()
    state = None
    try:
        conn.execute(statement)
    except psycopg.Error as e:
        state = e.sqlstate
    elapsed_ms = (time.monotonic() - start) * 1000
    no_timeout(conn)
    if state is None:
        outcome = f"completed in {elapsed_ms:7.0f} ms"
        ok = True
        latency = None
    elif state == "57014":
        latency = elapsed_ms - timeout_ms
        outcome = f"canceled after {elapsed_ms:7.0f} ms, {latency:6.0f} ms after the timeout"
        ok = latency <= BOUND_MS
    else:
        outcome = f"failed with SQLSTATE {state}"
        ok = False
        latency = None
    print(f"{'ok  ' if ok else 'FAIL'} {label:<22} timeout {timeout_ms:5d} ms: {outcome}", flush=True)
    if ok:
        passed += 1
    else:
        failed += 1
    return latency


def main():
    admin = psycopg.connect(dbname="postgres", autocommit=True)
    conn = setup(admin)
    print(f"{EVENTS} events, {IDS} ids; a cancel must take at most {BOUND_MS:.0f} ms", flush=True)
    latencies = []
    for label, statement, recorded, timeouts, more in CASES:
        conn.execute("TRUNCATE projection_offset")
        if recorded:
            conn.execute(statement)
        for timeout_ms in sorted(timeouts + (more if FULL else [])):
            latency = run_case(conn, label, statement, recorded, timeout_ms)
            if latency is not None:
                latencies.append(latency)
    if latencies:
        latencies.sort()
        median = latencies[len(latencies) // 2]
        print(f"cancel latency over {len(latencies)} cancels: median {median:.0f} ms, max {latencies[-1]:.0f} ms")
    conn.close()
    admin.execute(f"DROP DATABASE {DB}")
    admin.close()
    print(f"cancel: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
