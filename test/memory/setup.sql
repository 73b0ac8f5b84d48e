-- Objects of the memory test, in its own database.
CREATE EXTENSION projection_offset;

-- A projector with a little work in it: reads the payload, takes no locks
-- and writes nothing, so that the backend's own memory is what is measured.
CREATE FUNCTION po_mem_projector(event_id text, payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF (payload->>'n')::bigint < 0 THEN
        RAISE EXCEPTION 'unreachable';
    END IF;
END
$$;

-- The same in SQL, for the churn mode.
CREATE FUNCTION po_mem_sql_projector(event_id text, payload jsonb) RETURNS void
LANGUAGE sql AS $$ SELECT (payload->>'n')::bigint $$;

CREATE TABLE po_mem_samples (
    mode text NOT NULL,
    calls bigint NOT NULL,
    pid int NOT NULL,
    rss_anon_kb bigint NOT NULL,   -- private memory of the backend
    vm_rss_kb bigint NOT NULL,     -- includes shared buffers it touched
    contexts_kb bigint NOT NULL,   -- sum of its memory contexts
    PRIMARY KEY (mode, calls)
);

-- Records the calling backend's memory after `calls` calls.
CREATE FUNCTION po_mem_sample(mode text, calls bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    status text := pg_read_file('/proc/self/status');
BEGIN
    INSERT INTO po_mem_samples VALUES (
        mode, calls, pg_backend_pid(),
        substring(status FROM 'RssAnon:\s+(\d+) kB')::bigint,
        substring(status FROM 'VmRSS:\s+(\d+) kB')::bigint,
        (SELECT sum(total_bytes) / 1024 FROM pg_backend_memory_contexts));
END
$$;

-- One apply: each event is delivered twice in a row, so that half the
-- calls record and half are re-deliveries compared by payload hash.
CREATE FUNCTION po_mem_apply(mode text, g bigint) RETURNS boolean
LANGUAGE sql AS $$
    SELECT apply_with_offset(mode || '-' || ((g + 1) / 2), 'memory-' || mode,
                             'po_mem_projector(text,jsonb)',
                             jsonb_build_object('n', (g + 1) / 2, 'mode', mode))
$$;

CREATE FUNCTION po_mem_apply_sql(mode text, g bigint) RETURNS boolean
LANGUAGE sql AS $$
    SELECT apply_with_offset(mode || '-' || ((g + 1) / 2), 'memory-' || mode,
                             'po_mem_sql_projector(text,jsonb)',
                             jsonb_build_object('n', (g + 1) / 2, 'mode', mode))
$$;
