-- The read model and projectors every driver of the driver suite calls.
-- Loaded once into the suite's database, after CREATE EXTENSION.
--
-- drivers_applied gets one row per projector call, with no unique key, so
-- that an event applied twice shows as two rows instead of being absorbed by
-- an ON CONFLICT. The suite's drivers use event ids prefixed with their own
-- name, so they never see each other's rows.

CREATE TABLE drivers_applied (
    event_id text NOT NULL,
    payload  jsonb,
    -- A negative amount is how a driver makes the SQL projector fail with
    -- an error of its own (23514 check_violation).
    amount   integer CHECK (amount >= 0),
    via      text NOT NULL
);

-- A projector in LANGUAGE sql, (event id, payload).
CREATE FUNCTION drivers_project_sql(event_id text, payload jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO public.drivers_applied (event_id, payload, amount, via)
    VALUES (event_id, payload, (payload ->> 'amount')::integer, 'sql')
$$;

-- A projector in LANGUAGE plpgsql. It writes first and then, when the
-- payload has "raise", fails with that SQLSTATE: the row it wrote must not
-- survive, and the caller must see the projector's own SQLSTATE.
CREATE FUNCTION drivers_project_plpgsql(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.drivers_applied (event_id, payload, amount, via)
    VALUES (event_id, payload, (payload ->> 'amount')::integer, 'plpgsql');
    IF payload ? 'raise' THEN
        RAISE EXCEPTION 'projector refused event %', event_id
            USING ERRCODE = payload ->> 'raise';
    END IF;
END
$$;

-- A set projector for apply_with_offset_batch: one call per batch with the
-- events applied now, written set-based.
CREATE FUNCTION drivers_project_set(event_ids text[], payloads jsonb[]) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO public.drivers_applied (event_id, payload, amount, via)
    SELECT e.id, e.payload, (e.payload ->> 'amount')::integer, 'set'
    FROM unnest(event_ids, payloads) AS e (id, payload)
$$;
