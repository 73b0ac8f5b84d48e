-- Adopting a database whose application migration already created the
-- table: CREATE EXTENSION takes it over with its rows.
\set SHOW_CONTEXT never
DROP EXTENSION projection_offset;

-- The application's migration, as it stands.
CREATE TABLE "projection_offset" (
    "eventId" TEXT NOT NULL,
    "handlerName" TEXT NOT NULL,
    "appliedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "payloadHash" TEXT,

    CONSTRAINT "projection_offset_pkey" PRIMARY KEY ("eventId", "handlerName")
);
CREATE INDEX "projection_offset_handlerName_appliedAt_idx" ON "projection_offset"("handlerName", "appliedAt" DESC);
-- Rows the application wrote itself.
INSERT INTO projection_offset ("eventId", "handlerName", "payloadHash") VALUES ('a-1', 'app', NULL), ('a-2', 'app', 'h');

CREATE EXTENSION projection_offset;
SELECT "eventId", "payloadHash" FROM projection_offset ORDER BY 1;
SELECT offset_claim('a-1', 'app'), offset_claim('a-2', 'app', 'h'), offset_claim('a-3', 'app');
SELECT pg_describe_object(classid, objid, 0) FROM pg_depend
WHERE refobjid = (SELECT oid FROM pg_extension WHERE extname = 'projection_offset')
  AND classid = 'pg_class'::regclass ORDER BY 1;
SELECT indexname FROM pg_indexes WHERE tablename = 'projection_offset' ORDER BY 1;
-- The application keeps writing the table directly.
INSERT INTO projection_offset ("eventId", "handlerName") VALUES ('a-4', 'app');
SELECT offset_claim('a-4', 'app');

-- A table of that name with another shape is refused, and left alone.
DROP EXTENSION projection_offset;
CREATE TABLE projection_offset (id int PRIMARY KEY);
CREATE EXTENSION projection_offset;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM projection_offset;
DROP TABLE projection_offset;

-- So is a table with triggers: they would run inside every claim.
CREATE TABLE "projection_offset" (
    "eventId" TEXT NOT NULL,
    "handlerName" TEXT NOT NULL,
    "appliedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "payloadHash" TEXT,
    CONSTRAINT "projection_offset_pkey" PRIMARY KEY ("eventId", "handlerName")
);
CREATE FUNCTION adopt_trigger() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER audit BEFORE INSERT ON projection_offset FOR EACH ROW EXECUTE FUNCTION adopt_trigger();
CREATE EXTENSION projection_offset;
DROP TABLE projection_offset;
DROP FUNCTION adopt_trigger();

-- So are an unlogged table (a crash would lose its offsets) and a table
-- whose "appliedAt" has no default (every claim would fail).
CREATE UNLOGGED TABLE "projection_offset" (
    "eventId" TEXT NOT NULL,
    "handlerName" TEXT NOT NULL,
    "appliedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "payloadHash" TEXT,
    CONSTRAINT "projection_offset_pkey" PRIMARY KEY ("eventId", "handlerName")
);
CREATE EXTENSION projection_offset;
DROP TABLE projection_offset;
CREATE TABLE "projection_offset" (
    "eventId" TEXT NOT NULL,
    "handlerName" TEXT NOT NULL,
    "appliedAt" TIMESTAMP(3) NOT NULL,
    "payloadHash" TEXT,
    CONSTRAINT "projection_offset_pkey" PRIMARY KEY ("eventId", "handlerName")
);
CREATE EXTENSION projection_offset;
DROP TABLE projection_offset;

-- So is a table that another role owns, even for a superuser.
CREATE ROLE regress_adopt_owner;
CREATE TABLE "projection_offset" (
    "eventId" TEXT NOT NULL,
    "handlerName" TEXT NOT NULL,
    "appliedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "payloadHash" TEXT,
    CONSTRAINT "projection_offset_pkey" PRIMARY KEY ("eventId", "handlerName")
);
ALTER TABLE projection_offset OWNER TO regress_adopt_owner;
CREATE EXTENSION projection_offset;
\echo :LAST_ERROR_SQLSTATE
DROP TABLE projection_offset;
DROP ROLE regress_adopt_owner;

CREATE EXTENSION projection_offset;
