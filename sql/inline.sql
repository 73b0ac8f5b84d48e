-- Inline handlers: the statement trigger on the source applies the events
-- an INSERT appends, in the appending transaction and as the appending
-- role, in position order, exactly once per (event, handler); a projector
-- error aborts the append. No projection worker runs in this cluster, so
-- what is applied here is what the trigger applied.
\set VERBOSITY default
\set SHOW_CONTEXT never

-- A source without a unique id, so that the same event can be appended
-- twice.
CREATE TABLE inl_events (
    position bigserial NOT NULL,
    id text NOT NULL,
    type text NOT NULL,
    payload jsonb NOT NULL
);
-- What the projectors did, in the order they did it.
CREATE TABLE inl_applied (seq bigserial, handler text, event_id text, amount int, applied_by text);
CREATE FUNCTION inl_all(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF payload ? 'fail' THEN
        RAISE EXCEPTION 'cannot project event %', event_id
            USING ERRCODE = 'IN001', DETAIL = 'The payload asks for a failure.';
    END IF;
    INSERT INTO inl_applied (handler, event_id, amount, applied_by)
    VALUES ('all', event_id, (payload->>'amount')::int, current_user);
END
$$;
CREATE FUNCTION inl_orders(event_id text, payload jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO inl_applied (handler, event_id, amount, applied_by)
    VALUES ('orders', event_id, (payload->>'amount')::int, current_user)
$$;
SELECT projection_register('inl-all', 'inl_all(text,jsonb)', 'inl_events', mode => 'inline');
SELECT projection_register('inl-orders', 'inl_orders(text,jsonb)', 'inl_events',
                           event_types => '{order_placed}', mode => 'inline');

-- Applied in the appending transaction: visible before it commits, and
-- gone with it when it rolls back.
BEGIN;
INSERT INTO inl_events (id, type, payload) VALUES ('i-1', 'order_placed', '{"amount": 10}');
SELECT handler, event_id, amount FROM inl_applied ORDER BY seq;
SELECT "handlerName", "eventId" FROM projection_offset WHERE "handlerName" LIKE 'inl-%' ORDER BY 1, 2;
ROLLBACK;
SELECT count(*) AS applied FROM inl_applied;
SELECT count(*) AS offsets FROM projection_offset WHERE "handlerName" LIKE 'inl-%';

-- Committed, with the type filter: inl-orders takes order_placed only.
INSERT INTO inl_events (id, type, payload)
VALUES ('i-1', 'order_placed', '{"amount": 10}'), ('i-2', 'order_paid', '{"amount": 5}');
SELECT handler, event_id, amount FROM inl_applied ORDER BY seq;
-- Each offset carries the event's position.
SELECT o."handlerName", o."eventId", p."position" = e.position AS position_recorded
FROM projection_offset o
JOIN projection_offset_position p USING ("eventId", "handlerName")
JOIN inl_events e ON e.id = o."eventId"
WHERE o."handlerName" LIKE 'inl-%' ORDER BY 1, 2;

-- Exactly once: the same event appended again, alone or twice in one
-- statement, is applied once per handler.
INSERT INTO inl_events (id, type, payload) VALUES ('i-1', 'order_placed', '{"amount": 10}');
INSERT INTO inl_events (id, type, payload)
VALUES ('i-3', 'order_placed', '{"amount": 3}'), ('i-3', 'order_placed', '{"amount": 3}');
SELECT id, count(*) AS appended FROM inl_events GROUP BY id ORDER BY id;
SELECT handler, event_id, count(*) AS applied FROM inl_applied GROUP BY 1, 2 ORDER BY 1, 2;
-- The same id with another payload is a divergence: PJ001 refuses the append.
INSERT INTO inl_events (id, type, payload) VALUES ('i-1', 'order_placed', '{"amount": 11}');
SELECT count(*) AS appended FROM inl_events WHERE id = 'i-1';

-- Position order, whatever the order of the rows in the statement.
INSERT INTO inl_events (position, id, type, payload)
VALUES (1005, 'o-5', 'order_placed', '{"amount": 5}'), (1003, 'o-3', 'order_placed', '{"amount": 3}'),
       (1004, 'o-4', 'order_paid', '{"amount": 4}');
SELECT handler, event_id FROM inl_applied WHERE event_id LIKE 'o-%' ORDER BY seq;

-- Many rows: INSERT ... SELECT and COPY. A set projector gets them in
-- arrays of at most batch_size events, in position order.
CREATE TABLE inl_calls (call bigserial, events int, first_id text, last_id text);
CREATE FUNCTION inl_bulk(event_ids text[], payloads jsonb[]) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO inl_calls (events, first_id, last_id)
    VALUES (cardinality(event_ids), event_ids[1], event_ids[cardinality(event_ids)])
$$;
SELECT projection_register('inl-bulk', 'inl_bulk(text[],jsonb[])', 'inl_events',
                           event_types => '{bulk}', mode => 'inline', batch_size => 1000);
INSERT INTO inl_events (id, type, payload)
SELECT 'b-' || g, 'bulk', jsonb_build_object('amount', g) FROM generate_series(1, 2500) g;
SELECT events, first_id, last_id FROM inl_calls ORDER BY call;
-- The per-event projector applied all 2500, once each, in position order.
SELECT count(*) AS applied, count(DISTINCT event_id) AS distinct_events,
       array_agg(event_id ORDER BY seq) = array_agg(event_id ORDER BY substr(event_id, 3)::int) AS in_order
FROM inl_applied WHERE handler = 'all' AND event_id LIKE 'b-%';
COPY inl_events (id, type, payload) FROM stdin;
c-1	bulk	{"amount": 1}
c-2	order_placed	{"amount": 2}
c-3	bulk	{"amount": 3}
\.
SELECT events, first_id, last_id FROM inl_calls WHERE first_id LIKE 'c-%';
SELECT handler, event_id FROM inl_applied WHERE event_id LIKE 'c-%' ORDER BY seq;
-- A statement that appends nothing applies nothing.
INSERT INTO inl_events (id, type, payload) SELECT 'none', 'bulk', '{}' WHERE false;
SELECT count(*) AS calls FROM inl_calls;

-- Only running handlers: a paused, rebuilding or stopped one is skipped
-- (the projection worker catches it up), the others still apply.
SELECT projection_pause('inl-orders');
INSERT INTO inl_events (id, type, payload) VALUES ('i-10', 'order_placed', '{"amount": 1}');
SELECT projection_resume('inl-orders');
INSERT INTO inl_events (id, type, payload) VALUES ('i-11', 'order_placed', '{"amount": 1}');
SELECT projection_rebuild('inl-orders');
SELECT state FROM projection_offset_handler WHERE handler_name = 'inl-orders';
INSERT INTO inl_events (id, type, payload) VALUES ('i-12', 'order_placed', '{"amount": 1}');
UPDATE projection_offset_handler SET state = 'stopped' WHERE handler_name = 'inl-orders';
INSERT INTO inl_events (id, type, payload) VALUES ('i-13', 'order_placed', '{"amount": 1}');
UPDATE projection_offset_handler SET state = 'running' WHERE handler_name = 'inl-orders';
INSERT INTO inl_events (id, type, payload) VALUES ('i-14', 'order_placed', '{"amount": 1}');
SELECT handler, event_id FROM inl_applied WHERE event_id IN ('i-10', 'i-11', 'i-12', 'i-13', 'i-14') ORDER BY seq;

-- A projector error aborts the append, with the projector's SQLSTATE,
-- message and detail, and context lines naming the handler, the event
-- and the table.
\set SHOW_CONTEXT always
INSERT INTO inl_events (id, type, payload)
VALUES ('i-20', 'order_placed', '{"amount": 20}'), ('i-21', 'order_placed', '{"amount": 21, "fail": true}');
\set SHOW_CONTEXT never
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS appended FROM inl_events WHERE id IN ('i-20', 'i-21');
SELECT count(*) AS applied FROM inl_applied WHERE event_id IN ('i-20', 'i-21');
SELECT count(*) AS offsets FROM projection_offset WHERE "eventId" IN ('i-20', 'i-21');
-- The appending transaction may catch it and go on without that append.
BEGIN;
SAVEPOINT append;
INSERT INTO inl_events (id, type, payload) VALUES ('i-22', 'order_placed', '{"fail": true}');
ROLLBACK TO SAVEPOINT append;
INSERT INTO inl_events (id, type, payload) VALUES ('i-23', 'order_placed', '{"amount": 23}');
COMMIT;
SELECT handler, event_id FROM inl_applied WHERE event_id IN ('i-22', 'i-23') ORDER BY seq;

-- A projector dropped since registration: 42883, and the append refused.
CREATE FUNCTION inl_gone(event_id text, payload jsonb) RETURNS void LANGUAGE sql AS $$ SELECT $$;
SELECT projection_register('inl-gone', 'inl_gone(text,jsonb)', 'inl_events', mode => 'inline');
DROP FUNCTION inl_gone(text, jsonb);
INSERT INTO inl_events (id, type, payload) VALUES ('i-30', 'order_placed', '{"amount": 30}');
SELECT projection_unregister('inl-gone');

-- As the appending role: it needs SELECT on projection_offset_handler to
-- find the handlers, the rights of a positioned batch claim, EXECUTE on the
-- projectors and the rights they need; the projectors run as that role.
CREATE ROLE regress_inl_app;
GRANT INSERT ON inl_events TO regress_inl_app;
GRANT USAGE ON SEQUENCE inl_events_position_seq, inl_applied_seq_seq TO regress_inl_app;
GRANT INSERT ON inl_applied TO regress_inl_app;
SET ROLE regress_inl_app;
INSERT INTO inl_events (id, type, payload) VALUES ('i-40', 'order_placed', '{"amount": 40}');
RESET ROLE;
GRANT SELECT ON projection_offset_handler TO regress_inl_app;
SET ROLE regress_inl_app;
INSERT INTO inl_events (id, type, payload) VALUES ('i-40', 'order_placed', '{"amount": 40}');
RESET ROLE;
GRANT SELECT, INSERT ON projection_offset, projection_offset_position TO regress_inl_app;
GRANT SELECT ON projection_offset_checkpoint TO regress_inl_app;
SET ROLE regress_inl_app;
INSERT INTO inl_events (id, type, payload) VALUES ('i-40', 'order_placed', '{"amount": 40}');
RESET ROLE;
SELECT handler, event_id, applied_by FROM inl_applied WHERE event_id = 'i-40' ORDER BY seq;
REVOKE ALL ON projection_offset_handler, projection_offset, projection_offset_position, projection_offset_checkpoint
    FROM regress_inl_app;
DROP OWNED BY regress_inl_app;
DROP ROLE regress_inl_app;

-- The trigger function runs only as the extension creates it: an AFTER
-- INSERT statement trigger with a NEW TABLE.
CREATE TABLE inl_misused (position bigserial, id text, type text, payload jsonb);
CREATE TRIGGER inl_row AFTER INSERT ON inl_misused FOR EACH ROW EXECUTE FUNCTION _projection_offset_inline();
INSERT INTO inl_misused (id, type, payload) VALUES ('m-1', 'bulk', '{}');
DROP TRIGGER inl_row ON inl_misused;
CREATE TRIGGER inl_statement AFTER INSERT ON inl_misused FOR EACH STATEMENT EXECUTE FUNCTION _projection_offset_inline();
INSERT INTO inl_misused (id, type, payload) VALUES ('m-1', 'bulk', '{}');

-- Unregistered, the source appends without applying anything.
SELECT projection_unregister('inl-all'), projection_unregister('inl-orders'), projection_unregister('inl-bulk');
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'inl_events'::regclass;
INSERT INTO inl_events (id, type, payload) VALUES ('i-50', 'order_placed', '{"amount": 50}');
SELECT count(*) AS applied FROM inl_applied WHERE event_id = 'i-50';

DROP TABLE inl_events, inl_applied, inl_calls, inl_misused;
DROP FUNCTION inl_all(text, jsonb), inl_orders(text, jsonb), inl_bulk(text[], jsonb[]);
DELETE FROM projection_offset WHERE "handlerName" LIKE 'inl-%';
DELETE FROM projection_offset_position WHERE "handlerName" LIKE 'inl-%';
