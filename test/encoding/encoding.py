#!/usr/bin/env python3
"""Databases whose encoding is not UTF-8, seen by a real client.

In a UTF8, a LATIN1 and an EUC_JP database (C collation), a client with
client_encoding UTF8 (psycopg) checks:

  excerpts  errors whose message or context quotes a long id or handler
            name made of multibyte characters reach the client with their
            own SQLSTATE (PJ001, or the projector's 22012), never as 22021
            "invalid byte sequence": the message cut the text inside a
            character of the database encoding. Every cut position is tried.
  hashes    the payloadHash that apply_with_offset and apply_with_offset_batch
            record for a payload with non-ASCII text equals the documented
            encode(sha256(convert_to(payload::text, 'UTF8')), 'hex'), and the
            SHA-256 of the payload's text that the client computes from UTF-8;
            a claim that carries the client's hash is then a re-delivery of
            apply_with_offset, not a divergence.

Connection settings come from PGHOST, PGPORT, PGUSER (a superuser: it
creates the databases). Prints one line per failed check and a final line
"encoding: N passed, N failed".
"""
import hashlib
import json
import sys

import psycopg

DATABASES = [
    # (database, encoding, characters to build text from)
    ("po_encoding_utf8", "UTF8", "é漢😀ßあ"),
    ("po_encoding_latin1", "LATIN1", "éüßÆ×ÿ"),
    # Two-byte kanji and kana, two-byte half-width katakana (0x8E ..) and
    # three-byte JIS X 0212 characters (0x8F ...).
    ("po_encoding_euc_jp", "EUC_JP", "漢字あｱ丂丄"),
]
MESSAGE_LIMIT = 64  # bytes kept of an id or handler name in a message

passed = 0
failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {what}")


def sqlstate_of(conn, sql, params=()):
    """Runs sql in a transaction that is rolled back; returns (sqlstate, error)."""
    try:
        with conn.transaction(force_rollback=True):
            conn.execute(sql, params)
        return None, None
    except psycopg.Error as e:
        return e.sqlstate, e


def setup(admin, db, encoding):
    admin.execute(f"DROP DATABASE IF EXISTS {db}")
    admin.execute(f"CREATE DATABASE {db} ENCODING '{encoding}' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
    conn = psycopg.connect(dbname=db, client_encoding="UTF8")
    with conn.transaction():
        conn.execute("CREATE EXTENSION projection_offset")
        conn.execute("CREATE FUNCTION enc_fail(event_id text, payload jsonb) RETURNS void "
                     "LANGUAGE plpgsql AS $$ BEGIN PERFORM 1 / 0; END $$")
        conn.execute("CREATE FUNCTION enc_noop(event_id text, payload jsonb) RETURNS void "
                     "LANGUAGE sql AS $$ SELECT $$")
    return conn


def server_lengths(conn, chars):
    """Bytes of each character in the database encoding; unrepresentable ones are left out."""
    lengths = {}
    for ch in chars:
        state, _ = sqlstate_of(conn, "SELECT %s::text", (ch,))
        if state is None:
            lengths[ch] = conn.execute("SELECT octet_length(%s::text)", (ch,)).fetchone()[0]
    return lengths


def long_texts(chars, lengths):
    """Texts longer than MESSAGE_LIMIT bytes in the database encoding, with an
    ASCII prefix of 0 .. 3 bytes before characters of every width, so that
    the cut at MESSAGE_LIMIT falls at every offset inside a character."""
    texts = []
    usable = [c for c in chars if c in lengths]
    for lead in usable:
        for prefix in range(0, max(lengths.values()) + 1):
            body = "x" * prefix
            k = 0
            while len(body.encode("utf-8")) < 4 * MESSAGE_LIMIT:
                body += usable[k % len(usable)] if k % 2 else lead
                k += 1
            texts.append(body)
    return texts


def excerpt_checks(conn, db, texts):
    handler = texts[-1][:40]  # multibyte and long too
    for i, text in enumerate(texts):
        event_id = f"{text}-{i}"
        label = f"{db}: text {i}"
        # PJ001 from the single form: the message quotes id and handler.
        state, err = sqlstate_of(conn,
                                 "SELECT offset_claim(%s, %s, 'hash-a'), offset_claim(%s, %s, 'hash-b')",
                                 (event_id, handler, event_id, handler))
        check(state == "PJ001", f"{label}: divergence gave {state}: {err}")
        if state == "PJ001":
            check(err.diag.message_primary.startswith('event "' + event_id[:4]),
                  f"{label}: divergence message {err.diag.message_primary!r}")
        # PJ001 from the batch form.
        events = json.dumps([{"event_id": event_id, "payload": 1}, {"event_id": event_id, "payload": 2}])
        state, err = sqlstate_of(conn, "SELECT apply_with_offset_batch(%s, 'enc_noop(text,jsonb)'::regprocedure, %s::jsonb)",
                                 (handler, events))
        check(state == "PJ001", f"{label}: batch divergence gave {state}: {err}")
        # The projector's own error, with a context line quoting both.
        state, err = sqlstate_of(conn, "SELECT apply_with_offset(%s, %s, 'enc_fail(text,jsonb)'::regprocedure, '{}')",
                                 (event_id, handler))
        check(state == "22012", f"{label}: projector error gave {state}: {err}")
        if state == "22012":
            check("projection_offset projector for handler" in (err.diag.context or ""),
                  f"{label}: projector error context {err.diag.context!r}")
        events = json.dumps([{"event_id": event_id, "payload": {}}])
        state, err = sqlstate_of(conn, "SELECT apply_with_offset_batch(%s, 'enc_fail(text,jsonb)'::regprocedure, %s::jsonb)",
                                 (handler, events))
        check(state == "22012", f"{label}: batch projector error gave {state}: {err}")


def hash_checks(conn, db, chars, lengths):
    usable = "".join(c for c in chars if c in lengths)
    payloads = [
        {"text": usable},
        {usable: [usable, 1, {"nested": usable * 3}]},
        {"ascii": "plain"},
        [usable, None, True, 1.5],
    ]
    for i, payload in enumerate(payloads):
        label = f"{db}: payload {i}"
        with conn.transaction(force_rollback=True):
            doc = json.dumps(payload, ensure_ascii=False)
            conn.execute("SELECT apply_with_offset(%s, 'enc-hash', 'enc_noop(text,jsonb)'::regprocedure, %s::jsonb)",
                         (f"single-{i}", doc))
            conn.execute("SELECT apply_with_offset_batch('enc-hash', 'enc_noop(text,jsonb)'::regprocedure, "
                         "jsonb_build_array(jsonb_build_object('event_id', %s::text, 'payload', %s::jsonb)))",
                         (f"batch-{i}", doc))
            rows = conn.execute(
                "SELECT o.\"eventId\", o.\"payloadHash\", %s::jsonb::text, "
                "       encode(sha256(convert_to(%s::jsonb::text, 'UTF8')), 'hex') "
                "FROM projection_offset o WHERE o.\"handlerName\" = 'enc-hash' ORDER BY 1",
                (doc, doc)).fetchall()
            check(len(rows) == 2, f"{label}: {len(rows)} offsets recorded")
            for event_id, stored, canonical, documented in rows:
                client = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
                check(stored == documented, f"{label}: {event_id} stored {stored}, documented formula {documented}")
                check(stored == client, f"{label}: {event_id} stored {stored}, client's SHA-256 of UTF-8 {client}")
        # A claim with the client's hash, then apply_with_offset of the same
        # payload: a re-delivery, not a divergence.
        with conn.transaction(force_rollback=True):
            canonical = conn.execute("SELECT %s::jsonb::text", (doc,)).fetchone()[0]
            client = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
            conn.execute("SELECT offset_claim(%s, 'enc-hash', %s)", (f"claimed-{i}", client))
            state, err = None, None
            try:
                with conn.transaction():
                    again = conn.execute(
                        "SELECT apply_with_offset(%s, 'enc-hash', 'enc_noop(text,jsonb)'::regprocedure, %s::jsonb)",
                        (f"claimed-{i}", doc)).fetchone()[0]
            except psycopg.Error as e:
                state, err, again = e.sqlstate, e, None
            check(state is None and again is False,
                  f"{label}: apply after a claim with the client's hash gave {state or again}: {err or ''}")


def main():
    admin = psycopg.connect(dbname="postgres", autocommit=True)
    for db, encoding, chars in DATABASES:
        conn = setup(admin, db, encoding)
        lengths = server_lengths(conn, chars)
        widths = sorted(set(lengths.values()))
        print(f"{db} ({encoding}): characters of {widths} bytes: {''.join(lengths)}")
        check(len(lengths) == len(chars), f"{db}: characters not representable: "
              f"{''.join(c for c in chars if c not in lengths)}")
        texts = long_texts(chars, lengths)
        excerpt_checks(conn, db, texts)
        hash_checks(conn, db, chars, lengths)
        conn.close()
        admin.execute(f"DROP DATABASE {db}")
    admin.close()
    print(f"encoding: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
