-- Projectors written in LANGUAGE sql run from kept plans (the setting
-- projection_offset.cache_sql_projectors, on by default before PostgreSQL
-- 18), with the semantics of the SQL function handler: statements see each
-- other's work, parameters resolve by name and number, errors carry the
-- same context lines, and a changed function is planned again.
CREATE TABLE sp_totals (order_id text PRIMARY KEY, total numeric NOT NULL);
CREATE TABLE sp_log (event_id text, seen_total numeric);
CREATE FUNCTION sp_project(event_id text, payload jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO sp_totals VALUES (payload->>'order', (payload->>'amount')::numeric)
    ON CONFLICT (order_id) DO UPDATE SET total = sp_totals.total + EXCLUDED.total;
    -- The second statement sees the first one's row.
    INSERT INTO sp_log SELECT $1, t.total FROM sp_totals t WHERE t.order_id = sp_project.payload->>'order';
$$;
SELECT apply_with_offset('sp-1', 'sp', 'sp_project(text,jsonb)', '{"order": "o-1", "amount": 10}');
SELECT apply_with_offset('sp-2', 'sp', 'sp_project(text,jsonb)', '{"order": "o-1", "amount": 5}');
SELECT apply_with_offset('sp-2', 'sp', 'sp_project(text,jsonb)', '{"order": "o-1", "amount": 5}');
SELECT * FROM sp_totals;
SELECT * FROM sp_log ORDER BY 1;
-- The body's plans are kept in a memory context of their own, unless the
-- setting is off or the server (PostgreSQL 18) caches them itself.
SELECT count(*) = CASE WHEN current_setting('projection_offset.cache_sql_projectors')::boolean
                        AND current_setting('server_version_num')::int < 180000 THEN 1 ELSE 0 END
       AS bodies_kept_as_set
FROM pg_backend_memory_contexts WHERE name = 'projection_offset SQL projector';

-- Errors: the statement that failed, as the SQL function handler names it,
-- then the event.
\set SHOW_CONTEXT always
CREATE FUNCTION sp_checked(event_id text, payload jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO sp_log VALUES ($1, 0);
    INSERT INTO sp_totals VALUES ($1, (payload->>'amount')::numeric);
$$;
SELECT apply_with_offset('sp-3', 'sp-checked', 'sp_checked(text,jsonb)', '{"amount": "ten"}');
-- A body that cannot be analysed fails "during startup" ...
CREATE FUNCTION sp_later(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$ BEGIN END $$;
CREATE OR REPLACE FUNCTION sp_later(event_id text, payload jsonb) RETURNS void
LANGUAGE sql AS $$ SELECT 1 $$;
SET check_function_bodies = off;
CREATE OR REPLACE FUNCTION sp_later(event_id text, payload jsonb) RETURNS void
LANGUAGE sql AS $$ INSERT INTO sp_not_yet VALUES ($1) $$;
RESET check_function_bodies;
SELECT apply_with_offset('sp-4', 'sp-later', 'sp_later(text,jsonb)', '{}');
\set SHOW_CONTEXT never
-- ... and works once the table exists.
CREATE TABLE sp_not_yet (event_id text);
SELECT apply_with_offset('sp-4', 'sp-later', 'sp_later(text,jsonb)', '{}');
SELECT * FROM sp_not_yet;

-- A replaced body is planned again; so is one whose table changed.
CREATE OR REPLACE FUNCTION sp_later(event_id text, payload jsonb) RETURNS void
LANGUAGE sql AS $$ INSERT INTO sp_not_yet VALUES (upper($1)) $$;
SELECT apply_with_offset('sp-5', 'sp-later', 'sp_later(text,jsonb)', '{}');
ALTER TABLE sp_not_yet ADD COLUMN at_start boolean DEFAULT true;
SELECT apply_with_offset('sp-6', 'sp-later', 'sp_later(text,jsonb)', '{}');
SELECT * FROM sp_not_yet ORDER BY 1;

-- Bodies the kept plans leave to the SQL function handler: a utility
-- statement, a SET clause, SECURITY DEFINER, BEGIN ATOMIC. Each still
-- applies once.
CREATE FUNCTION sp_utility(event_id text, payload jsonb) RETURNS void
LANGUAGE sql AS $$ INSERT INTO sp_log VALUES ($1, 1); NOTIFY sp_channel $$;
CREATE FUNCTION sp_with_set(event_id text, payload jsonb) RETURNS void
LANGUAGE sql SET work_mem = '2MB' AS $$ INSERT INTO sp_log VALUES ($1, CASE WHEN current_setting('work_mem') = '2MB' THEN 2 END) $$;
CREATE FUNCTION sp_atomic(event_id text, payload jsonb) RETURNS void
LANGUAGE sql BEGIN ATOMIC INSERT INTO sp_log VALUES (event_id, 3); END;
SELECT apply_with_offset('sp-7', 'sp-fallback', 'sp_utility(text,jsonb)', '{}'),
       apply_with_offset('sp-8', 'sp-fallback', 'sp_with_set(text,jsonb)', '{}'),
       apply_with_offset('sp-9', 'sp-fallback', 'sp_atomic(text,jsonb)', '{}'),
       apply_with_offset('sp-9', 'sp-fallback', 'sp_atomic(text,jsonb)', '{}');
SELECT * FROM sp_log WHERE event_id IN ('sp-7', 'sp-8', 'sp-9') ORDER BY 1;

-- The batch form with a SQL projector applies each event once.
SELECT apply_with_offset_batch('sp-batch', 'sp_project(text,jsonb)',
    (SELECT jsonb_agg(jsonb_build_object('event_id', 'spb-' || g, 'payload',
                                         jsonb_build_object('order', 'o-2', 'amount', g)))
     FROM generate_series(1, 100) g));
SELECT * FROM sp_totals WHERE order_id = 'o-2';

-- Calls are counted as calls of the function.
SET track_functions = 'all';
SELECT pg_stat_clear_snapshot();
SELECT apply_with_offset('sp-10', 'sp', 'sp_project(text,jsonb)', '{"order": "o-3", "amount": 1}');
SELECT calls FROM pg_stat_xact_user_functions WHERE funcname = 'sp_project';
RESET track_functions;
