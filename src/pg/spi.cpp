#include "spi.hpp"

#include <array>
#include <string>

namespace po::pg {

namespace {

struct StatementSpec {
    const char* sql;  // %1$s is the quoted extension schema
    int nargs;
    std::array<Oid, 4> argtypes;
    int expected;  // SPI_OK_* code
};

// Every operator and function is schema-qualified: the caller's search_path
// may hold look-alikes, and plancache re-analyses a kept plan under the
// search_path current at each execution. Keys are compared only through the
// primary key ("eventId", "handlerName") or the handler name alone.
#define PO_EQ " OPERATOR(pg_catalog.=) "
#define PO_KEY_IS(alias, e, h) \
    " " alias ".\"eventId\"" PO_EQ e " AND " alias ".\"handlerName\"" PO_EQ h " "

const StatementSpec& spec(Statement statement) {
    static const std::array<StatementSpec, static_cast<size_t>(Statement::Count_)> specs{{
        // ClaimOne
        {"INSERT INTO %1$s.projection_offset (\"eventId\", \"handlerName\", \"payloadHash\")"
         " VALUES ($1, $2, $3)"
         " ON CONFLICT (\"eventId\", \"handlerName\") DO NOTHING"
         " RETURNING true",
         3, {TEXTOID, TEXTOID, TEXTOID}, SPI_OK_INSERT_RETURNING},
        // ClaimOneHashed: a re-delivery with a hash needs the stored hash; in
        // the usual case the row is older than this statement's snapshot and
        // one statement answers. It returns no row when the conflicting row
        // was committed after the snapshot was taken.
        {"WITH recorded AS ("
         "  INSERT INTO %1$s.projection_offset (\"eventId\", \"handlerName\", \"payloadHash\")"
         "  VALUES ($1, $2, $3)"
         "  ON CONFLICT (\"eventId\", \"handlerName\") DO NOTHING"
         "  RETURNING true)"
         " SELECT true, NULL::pg_catalog.text FROM recorded"
         " UNION ALL"
         " SELECT false, o.\"payloadHash\" FROM %1$s.projection_offset o"
         " WHERE" PO_KEY_IS("o", "$1", "$2") "AND NOT EXISTS (SELECT FROM recorded)",
         3, {TEXTOID, TEXTOID, TEXTOID}, SPI_OK_SELECT},
        // ClaimOneAt: a position at or below the handler's checkpoint is a
        // duplicate and stores nothing.
        {"WITH cp AS ("
         "  SELECT c.\"position\" FROM %1$s.projection_offset_checkpoint c"
         "  WHERE c.\"handlerName\"" PO_EQ "$2),"
         " recorded AS ("
         "  INSERT INTO %1$s.projection_offset (\"eventId\", \"handlerName\", \"payloadHash\")"
         "  SELECT $1, $2, $3"
         "  WHERE NOT EXISTS (SELECT FROM cp WHERE cp.\"position\" OPERATOR(pg_catalog.>=) $4)"
         "  ON CONFLICT (\"eventId\", \"handlerName\") DO NOTHING"
         "  RETURNING \"eventId\", \"handlerName\"),"
         " positioned AS ("
         "  INSERT INTO %1$s.projection_offset_position (\"eventId\", \"handlerName\", \"position\")"
         "  SELECT recorded.\"eventId\", recorded.\"handlerName\", $4 FROM recorded"
         "  ON CONFLICT (\"eventId\", \"handlerName\") DO NOTHING)"
         " SELECT EXISTS (SELECT FROM recorded),"
         "  EXISTS (SELECT FROM cp WHERE cp.\"position\" OPERATOR(pg_catalog.>=) $4)",
         4, {TEXTOID, TEXTOID, TEXTOID, INT8OID}, SPI_OK_SELECT},
        // StoredHash
        {"SELECT o.\"payloadHash\" FROM %1$s.projection_offset o"
         " WHERE" PO_KEY_IS("o", "$1", "$2"),
         2, {TEXTOID, TEXTOID}, SPI_OK_SELECT},
        // ClaimBatchIds: rows are inserted in a fixed (C collation) order so that
        // two batches sharing ids wait on each other in the same order and
        // cannot deadlock; the result keeps the order of first appearance.
        {"WITH input AS ("
         "  SELECT u.id, pg_catalog.min(u.ord) AS ord"
         "  FROM pg_catalog.unnest($1) WITH ORDINALITY AS u(id, ord)"
         "  GROUP BY u.id),"
         " recorded AS ("
         "  INSERT INTO %1$s.projection_offset (\"eventId\", \"handlerName\")"
         "  SELECT input.id, $2 FROM input ORDER BY input.id COLLATE pg_catalog.\"C\""
         "  ON CONFLICT (\"eventId\", \"handlerName\") DO NOTHING"
         "  RETURNING \"eventId\")"
         " SELECT recorded.\"eventId\" FROM recorded"
         " JOIN input ON input.id" PO_EQ "recorded.\"eventId\""
         " ORDER BY input.ord",
         2, {TEXTARRAYOID, TEXTOID}, SPI_OK_SELECT},
        // ClaimBatch: the first occurrence of each id carries its hash; same
        // lock order as ClaimBatchIds. The INSERT ... SELECT sits in a CTE:
        // on a Citus table, a top-level INSERT ... SELECT ... RETURNING run
        // through SPI fails its tuple count check when rows conflict.
        {"WITH firsts AS ("
         "  SELECT DISTINCT ON (u.id) u.id, u.hash"
         "  FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2))"
         "   WITH ORDINALITY AS u(id, hash, ord)"
         "  ORDER BY u.id, u.ord),"
         " recorded AS ("
         "  INSERT INTO %1$s.projection_offset (\"eventId\", \"handlerName\", \"payloadHash\")"
         "  SELECT firsts.id, $3, firsts.hash FROM firsts"
         "  ORDER BY firsts.id COLLATE pg_catalog.\"C\""
         "  ON CONFLICT (\"eventId\", \"handlerName\") DO NOTHING"
         "  RETURNING \"eventId\")"
         " SELECT recorded.\"eventId\" FROM recorded",
         3, {TEXTARRAYOID, TEXTARRAYOID, TEXTOID}, SPI_OK_SELECT},
        // ClaimBatchAt: also skips positions at or below the checkpoint and
        // records the positions of what it claims.
        {"WITH firsts AS ("
         "  SELECT DISTINCT ON (u.id) u.id, u.hash, u.pos"
         "  FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3))"
         "   WITH ORDINALITY AS u(id, hash, pos, ord)"
         "  ORDER BY u.id, u.ord),"
         " cp AS ("
         "  SELECT c.\"position\" FROM %1$s.projection_offset_checkpoint c"
         "  WHERE c.\"handlerName\"" PO_EQ "$4),"
         " recorded AS ("
         "  INSERT INTO %1$s.projection_offset (\"eventId\", \"handlerName\", \"payloadHash\")"
         "  SELECT firsts.id, $4, firsts.hash FROM firsts"
         "  WHERE firsts.pos IS NULL"
         "     OR NOT EXISTS (SELECT FROM cp WHERE cp.\"position\" OPERATOR(pg_catalog.>=) firsts.pos)"
         "  ORDER BY firsts.id COLLATE pg_catalog.\"C\""
         "  ON CONFLICT (\"eventId\", \"handlerName\") DO NOTHING"
         "  RETURNING \"eventId\"),"
         " positioned AS ("
         "  INSERT INTO %1$s.projection_offset_position (\"eventId\", \"handlerName\", \"position\")"
         "  SELECT recorded.\"eventId\", $4, firsts.pos"
         "  FROM recorded JOIN firsts ON firsts.id" PO_EQ "recorded.\"eventId\""
         "  WHERE firsts.pos IS NOT NULL"
         "  ON CONFLICT (\"eventId\", \"handlerName\") DO NOTHING)"
         " SELECT recorded.\"eventId\" FROM recorded",
         4, {TEXTARRAYOID, TEXTARRAYOID, INT8ARRAYOID, TEXTOID}, SPI_OK_SELECT},
        // StoredHashes
        {"SELECT o.\"eventId\", o.\"payloadHash\" FROM %1$s.projection_offset o"
         " WHERE o.\"handlerName\"" PO_EQ "$2"
         " AND o.\"eventId\"" PO_EQ "ANY ($1)",
         2, {TEXTARRAYOID, TEXTOID}, SPI_OK_SELECT},
        // Release
        {"WITH gone AS ("
         "  DELETE FROM %1$s.projection_offset o WHERE" PO_KEY_IS("o", "$1", "$2") "RETURNING 1),"
         " unpositioned AS ("
         "  DELETE FROM %1$s.projection_offset_position p WHERE" PO_KEY_IS("p", "$1", "$2") ")"
         " SELECT pg_catalog.count(*) FROM gone",
         2, {TEXTOID, TEXTOID}, SPI_OK_SELECT},
        // Reset: the checkpoint goes too, or a rebuild would skip old events.
        {"WITH gone AS ("
         "  DELETE FROM %1$s.projection_offset o WHERE o.\"handlerName\"" PO_EQ "$1 RETURNING 1),"
         " unpositioned AS ("
         "  DELETE FROM %1$s.projection_offset_position p WHERE p.\"handlerName\"" PO_EQ "$1),"
         " uncheckpointed AS ("
         "  DELETE FROM %1$s.projection_offset_checkpoint c WHERE c.\"handlerName\"" PO_EQ "$1)"
         " SELECT pg_catalog.count(*) FROM gone",
         1, {TEXTOID}, SPI_OK_SELECT},
        // Prune: $2 is the cut-off as a local timestamp, the type of
        // "appliedAt", computed by the caller. Comparing the column with a
        // timestamptz would call a STABLE cast on it, which Citus refuses in
        // a DELETE.
        {"WITH gone AS ("
         "  DELETE FROM %1$s.projection_offset o"
         "  WHERE o.\"handlerName\"" PO_EQ "$1 AND o.\"appliedAt\" OPERATOR(pg_catalog.<) $2"
         "  RETURNING o.\"eventId\"),"
         " unpositioned AS ("
         "  DELETE FROM %1$s.projection_offset_position p USING gone"
         "  WHERE" PO_KEY_IS("p", "gone.\"eventId\"", "$1") ")"
         " SELECT pg_catalog.count(*) FROM gone",
         2, {TEXTOID, TIMESTAMPOID}, SPI_OK_SELECT},
        // PruneToCheckpoint: offsets first, then positions, the order in
        // which Release, Reset and Prune lock rows, so that they cannot
        // deadlock with each other.
        {"WITH cp AS ("
         "  SELECT c.\"position\" FROM %1$s.projection_offset_checkpoint c"
         "  WHERE c.\"handlerName\"" PO_EQ "$1),"
         " doomed AS ("
         "  SELECT p.\"eventId\" FROM %1$s.projection_offset_position p, cp"
         "  WHERE p.\"handlerName\"" PO_EQ "$1"
         "  AND p.\"position\" OPERATOR(pg_catalog.<=) cp.\"position\"),"
         " gone AS ("
         "  DELETE FROM %1$s.projection_offset o USING doomed"
         "  WHERE" PO_KEY_IS("o", "doomed.\"eventId\"", "$1") "RETURNING o.\"eventId\"),"
         " unpositioned AS ("
         "  DELETE FROM %1$s.projection_offset_position p USING doomed"
         "  WHERE" PO_KEY_IS("p", "doomed.\"eventId\"", "$1") ")"
         " SELECT pg_catalog.count(*) FROM gone",
         1, {TEXTOID}, SPI_OK_SELECT},
        // Checkpoint: it only moves forward. $3 is CURRENT_TIMESTAMP as the
        // column default stores it, computed by the caller: Citus runs only
        // IMMUTABLE functions in DO UPDATE SET.
        {"INSERT INTO %1$s.projection_offset_checkpoint AS c (\"handlerName\", \"position\", \"updatedAt\")"
         " VALUES ($1, $2, $3)"
         " ON CONFLICT (\"handlerName\") DO UPDATE"
         " SET \"position\" = GREATEST(c.\"position\", EXCLUDED.\"position\"),"
         "     \"updatedAt\" = EXCLUDED.\"updatedAt\""
         " RETURNING c.\"position\"",
         3, {TEXTOID, INT8OID, TIMESTAMPOID}, SPI_OK_INSERT_RETURNING},
    }};
    return specs[static_cast<size_t>(statement)];
}

#undef PO_KEY_IS
#undef PO_EQ

struct PlanCache {
    Oid nsp = InvalidOid;
    bool stale = false;
    std::array<SPIPlanPtr, static_cast<size_t>(Statement::Count_)> plans{};
};

PlanCache cache;

void drop_plans() {
    for (SPIPlanPtr& plan : cache.plans) {
        if (!plan) continue;
        SPIPlanPtr doomed = plan;
        plan = nullptr;
        pg_call([&]() noexcept { SPI_freeplan(doomed); });
    }
    cache.stale = false;
}

// Statements of ours now executing: a trigger or default on the extension's
// tables may call the extension again, and an invalidation processed meanwhile
// must not free a plan that an outer call is still running.
int executing = 0;

SPIPlanPtr prepared(Statement statement, Oid nsp) {
    if ((cache.stale || cache.nsp != nsp) && executing == 0) {
        drop_plans();
        cache.nsp = nsp;
    }
    SPIPlanPtr& slot = cache.plans[static_cast<size_t>(statement)];
    if (slot) return slot;

    const StatementSpec& s = spec(statement);
    const char* schema = pg_call([&]() noexcept {
        const char* name = get_namespace_name(nsp);
        return name ? quote_identifier(name) : nullptr;
    });
    if (!schema) {
        raise(Problem{"3F000", "schema of extension \"projection_offset\" does not exist", "", ""});
    }
    char* sql = pg_call([&]() noexcept { return psprintf(s.sql, schema); });
    slot = pg_call([&]() noexcept {
        SPIPlanPtr plan = SPI_prepare(sql, s.nargs, const_cast<Oid*>(s.argtypes.data()));
        if (plan == nullptr)
            elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
        SPI_keepplan(plan);
        return plan;
    });
    return slot;
}

}  // namespace

// The namespace of the function last asked about: an FmgrInfo, and so its
// fn_extra, lasts one execution of the calling query, while this lasts until
// pg_proc changes.
Oid namespace_of_fn = InvalidOid;
Oid namespace_oid = InvalidOid;

Oid extension_namespace(FunctionCallInfo fcinfo) {
    const Oid fn = fcinfo->flinfo->fn_oid;
    if (fn != namespace_of_fn) {
        namespace_oid = pg_call([&]() noexcept { return get_func_namespace(fn); });
        namespace_of_fn = fn;
    }
    return namespace_oid;
}

void invalidate_function_namespace() { namespace_of_fn = InvalidOid; }

void invalidate_plans() { cache.stale = true; }

SpiConnection::SpiConnection(Oid nsp) : nsp_(nsp) {
    pg_call([]() noexcept {
        if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    });
}

uint64_t SpiConnection::execute(Statement statement, const Datum* values, const char* nulls,
                                long limit) {
    SPIPlanPtr plan = prepared(statement, nsp_);
    const int expected = spec(statement).expected;
    struct Executing {
        Executing() { ++executing; }
        ~Executing() { --executing; }
    } running;
    return pg_call([&]() noexcept {
        int rc = SPI_execute_plan(plan, const_cast<Datum*>(values), nulls, false, limit);
        if (rc != expected) elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
        return static_cast<uint64_t>(SPI_processed);
    });
}

int64_t SpiConnection::first_int64() {
    return pg_call([]() noexcept {
        bool isnull = false;
        Datum d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
        return isnull ? int64{0} : DatumGetInt64(d);
    });
}

bool SpiConnection::first_bool(int column) {
    return pg_call([&]() noexcept {
        bool isnull = false;
        Datum d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, column, &isnull);
        return !isnull && DatumGetBool(d);
    });
}

std::optional<std::string> SpiConnection::text_at(uint64_t row, int column) {
    text* t = pg_call([&]() noexcept {
        bool isnull = true;
        Datum d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, column, &isnull);
        return isnull ? static_cast<text*>(nullptr) : DatumGetTextPP(d);
    });
    if (!t) return std::nullopt;
    return std::string(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

void SpiConnection::finish() {
    pg_call([]() noexcept { SPI_finish(); });
}

}  // namespace po::pg
