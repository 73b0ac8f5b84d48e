#include "spi.hpp"

#include <array>
#include <string>

#include "active_call.hpp"

namespace po::pg {

namespace {

struct StatementSpec {
    const char* sql;  // %1$s is the quoted extension schema
    int nargs;
    std::array<Oid, 4> argtypes;
    int expected;  // SPI_OK_* code
};

// The statements and their macros keep the layout of the SQL they hold.
// clang-format off
// Every operator and function is schema-qualified: the caller's search_path
// may hold look-alikes, and plancache re-analyses a kept plan under the
// search_path current at each execution. Keys are compared only through the
// primary key ("eventId", "handlerName") or the handler name alone.
#define PO_EQ " OPERATOR(pg_catalog.=) "
// The payloadHash of a jsonb payload, as documented.
#define PO_PAYLOAD_HASH(payload)                                                         \
    "pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(" payload "::pg_catalog.text, 'UTF8')), 'hex')"
#define PO_KEY_IS(alias, e, h) \
    " " alias ".\"eventId\"" PO_EQ e " AND " alias ".\"handlerName\"" PO_EQ h " "

const StatementSpec& spec(Statement statement) {
    static const std::array<StatementSpec, static_cast<size_t>(Statement::Count_)> specs{{
        // ClaimOne: one statement answers the usual cases: recorded now
        // (true, NULL), or a re-delivery of a row older than this
        // statement's snapshot (false, its stored hash). No row means that
        // neither happened: the conflicting row was committed after the
        // snapshot was taken, or it was released meanwhile, or a trigger
        // skipped the insert; the caller looks again with a new snapshot.
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
        // duplicate and stores nothing. One row: recorded, below the
        // checkpoint, position recorded, and for a pair not recorded now
        // whether it is stored (as of the snapshot) and its hash.
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
         "  ON CONFLICT (\"eventId\", \"handlerName\") DO NOTHING"
         "  RETURNING true)"
         " SELECT EXISTS (SELECT FROM recorded),"
         "  EXISTS (SELECT FROM cp WHERE cp.\"position\" OPERATOR(pg_catalog.>=) $4),"
         "  EXISTS (SELECT FROM positioned),"
         "  stored.found IS NOT NULL, stored.hash"
         " FROM (SELECT) AS one LEFT JOIN LATERAL ("
         "  SELECT true AS found, o.\"payloadHash\" AS hash FROM %1$s.projection_offset o"
         "  WHERE" PO_KEY_IS("o", "$1", "$2") "AND NOT EXISTS (SELECT FROM recorded)) AS stored ON true",
         4, {TEXTOID, TEXTOID, TEXTOID, INT8OID}, SPI_OK_SELECT},
        // StoredHash
        {"SELECT o.\"payloadHash\" FROM %1$s.projection_offset o"
         " WHERE" PO_KEY_IS("o", "$1", "$2"),
         2, {TEXTOID, TEXTOID}, SPI_OK_SELECT},
        // StoredPosition
        {"SELECT true FROM %1$s.projection_offset_position p"
         " WHERE" PO_KEY_IS("p", "$1", "$2"),
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
        // ClaimSorted: the batch form's claim. $1 holds the distinct ids of a
        // batch (or of a part of it) sorted by their bytes, $3 their payload
        // hashes; both are built by the caller from the events array, which
        // also finds repeats inside the batch. Rows are inserted in array
        // order (ORDER BY the ordinal, never by the planner's choice), so
        // that two batches sharing ids wait on each other in the same order
        // and cannot deadlock. Rows (kind, id, n): kind 1, an id recorded
        // now.
        {"WITH recorded AS ("
         "  INSERT INTO %1$s.projection_offset (\"eventId\", \"handlerName\", \"payloadHash\")"
         "  SELECT u.id, $2, u.hash"
         "  FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($3)) WITH ORDINALITY AS u(id, hash, ord)"
         "  ORDER BY u.ord"
         "  ON CONFLICT (\"eventId\", \"handlerName\") DO NOTHING"
         "  RETURNING \"eventId\")"
         " SELECT 1, recorded.\"eventId\", NULL::pg_catalog.int8 FROM recorded",
         3, {TEXTARRAYOID, TEXTOID, TEXTARRAYOID}, SPI_OK_SELECT},
        // ClaimSortedAt: the same for events with positions ($4, NULL where
        // an event has none), which skips positions at or below the
        // handler's checkpoint and records the positions of what it claims.
        // Further rows: kind 2, an id skipped as at or below the checkpoint;
        // kind 3, n = the positions recorded.
        {"WITH cp AS ("
         "  SELECT c.\"position\" FROM %1$s.projection_offset_checkpoint c"
         "  WHERE c.\"handlerName\"" PO_EQ "$2),"
         " input AS ("
         "  SELECT u.id, u.hash, u.pos, u.ord,"
         "         EXISTS (SELECT FROM cp WHERE cp.\"position\" OPERATOR(pg_catalog.>=) u.pos) AS below"
         "  FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($3), pg_catalog.unnest($4))"
         "       WITH ORDINALITY AS u(id, hash, pos, ord)),"
         " recorded AS ("
         "  INSERT INTO %1$s.projection_offset (\"eventId\", \"handlerName\", \"payloadHash\")"
         "  SELECT input.id, $2, input.hash FROM input WHERE NOT input.below"
         "  ORDER BY input.ord"
         "  ON CONFLICT (\"eventId\", \"handlerName\") DO NOTHING"
         "  RETURNING \"eventId\"),"
         " positioned AS ("
         "  INSERT INTO %1$s.projection_offset_position (\"eventId\", \"handlerName\", \"position\")"
         "  SELECT recorded.\"eventId\", $2, input.pos"
         "  FROM recorded JOIN input ON input.id" PO_EQ "recorded.\"eventId\""
         "  WHERE input.pos IS NOT NULL"
         "  ON CONFLICT (\"eventId\", \"handlerName\") DO NOTHING"
         "  RETURNING true)"
         " SELECT 1, recorded.\"eventId\", NULL::pg_catalog.int8 FROM recorded"
         " UNION ALL"
         " SELECT 2, input.id, NULL FROM input WHERE input.below"
         " UNION ALL"
         " SELECT 3, NULL, (SELECT pg_catalog.count(*) FROM positioned)",
         4, {TEXTARRAYOID, TEXTOID, TEXTARRAYOID, INT8ARRAYOID}, SPI_OK_SELECT},
        // StoredHashes: the rows stored for the ids of an array, as of a
        // snapshot taken now. Rows (id, stored hash).
        {"SELECT o.\"eventId\", o.\"payloadHash\""
         " FROM pg_catalog.unnest($1) AS u(id)"
         " JOIN %1$s.projection_offset o ON" PO_KEY_IS("o", "u.id", "$2"),
         2, {TEXTARRAYOID, TEXTOID}, SPI_OK_SELECT},
        // MissingIds: the first id of an array (by position) that is not
        // stored for a handler, with its 1-based position.
        {"SELECT u.id, u.ord FROM pg_catalog.unnest($1) WITH ORDINALITY AS u(id, ord)"
         " WHERE NOT EXISTS (SELECT FROM %1$s.projection_offset o WHERE" PO_KEY_IS("o", "u.id", "$2") ")"
         " ORDER BY u.ord LIMIT 1",
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
#undef PO_PAYLOAD_HASH
#undef PO_EQ
// clang-format on

struct PlanCache {
    Oid nsp = InvalidOid;
    bool stale = false;
    std::array<KeptPlan, static_cast<size_t>(Statement::Count_)> plans{};
    // Plans replaced while a statement of ours was executing: an outer call
    // (a trigger or default on the extension's tables may call the
    // extension again) may still be running one. Freed once none runs.
    std::vector<SPIPlanPtr> retired;
};

PlanCache cache;

// Statements of ours now executing (see ActiveCall).
int executing = 0;

void free_plan(SPIPlanPtr plan) {
    pg_call([&]() noexcept { SPI_freeplan(plan); });
}

void free_retired_plans() {
    while (!cache.retired.empty()) {
        SPIPlanPtr doomed = cache.retired.back();
        cache.retired.pop_back();
        free_plan(doomed);
    }
}

// The kept plans name the extension's schema in their text: after a change
// to pg_namespace they are replaced, never handed out again, even while an
// outer statement still runs one of them.
void replace_plans() {
    for (KeptPlan& plan : cache.plans) {
        if (executing == 0)
            plan.reset();
        else if (plan.ready())
            cache.retired.push_back(plan.release());
    }
}

}  // namespace

std::string quoted_schema(Oid nsp) {
    const char* quoted = pg_call([nsp]() noexcept {
        const char* name = get_namespace_name(nsp);
        return name ? quote_identifier(name) : nullptr;
    });
    if (!quoted) raise(Problem{"3F000", "schema of extension \"projection_offset\" does not exist", "", ""});
    return quoted;
}

std::string quoted_identifier(const std::string& identifier) {
    const char* value = identifier.c_str();
    return pg_call([value]() noexcept { return quote_identifier(value); });
}

namespace {

// The name of a statement in the errors of its results.
const char* statement_name(Statement statement) {
    static std::array<std::string, static_cast<size_t>(Statement::Count_)> names;
    std::string& name = names[static_cast<size_t>(statement)];
    if (name.empty()) name = "the extension's statement " + std::to_string(static_cast<int>(statement));
    return name.c_str();
}

const KeptPlan& prepared(Statement statement, Oid nsp) {
    if (executing == 0) free_retired_plans();
    if (cache.stale || cache.nsp != nsp) {
        replace_plans();
        cache.nsp = nsp;
        // Cleared before preparing: an invalidation that arrives while the
        // new plans are prepared marks them stale again.
        cache.stale = false;
    }
    KeptPlan& slot = cache.plans[static_cast<size_t>(statement)];
    if (slot.ready()) return slot;

    const StatementSpec& s = spec(statement);
    const std::string quoted = quoted_schema(nsp);
    const char* schema = quoted.c_str();
    const char* sql = pg_call([&]() noexcept { return psprintf(s.sql, schema); });
    slot.prepare(sql, s.nargs, s.argtypes.data(), statement_name(statement), s.expected);
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

bool has_before_insert_trigger(Oid nsp, const char* table) {
    return pg_call([&]() noexcept {
        const Oid relid = get_relname_relid(table, nsp);
        if (!OidIsValid(relid)) return false;
        // The caller's INSERT holds a lock on the table.
        Relation rel = RelationIdGetRelation(relid);
        if (!RelationIsValid(rel)) return false;
        const bool found = rel->trigdesc != nullptr && rel->trigdesc->trig_insert_before_row;
        RelationClose(rel);
        return found;
    });
}

void invalidate_function_namespace() { namespace_of_fn = InvalidOid; }

void invalidate_plans() { cache.stale = true; }

SpiConnection::SpiConnection(Oid nsp) : nsp_(nsp) {
    pg_call([]() noexcept {
        if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
    });
}

SpiResult SpiConnection::execute(Statement statement, const Datum* values, const char* nulls, long limit) {
    const KeptPlan& plan = prepared(statement, nsp_);
    ActiveCall running(&executing);
    return plan.run(values, nulls, limit);
}

namespace {

struct SinkReceiver {
    DestReceiver pub;  // first: the executor sees a DestReceiver
    RowSink* sink;
    int columns;
};

bool sink_receive(TupleTableSlot* slot, DestReceiver* self) {
    auto* receiver = reinterpret_cast<SinkReceiver*>(self);
    CHECK_FOR_INTERRUPTS();
    slot_getallattrs(slot);
    receiver->sink->row(slot->tts_values, slot->tts_isnull);
    return true;
}

void sink_startup(DestReceiver* self, int, TupleDesc typeinfo) {
    auto* receiver = reinterpret_cast<SinkReceiver*>(self);
    if (typeinfo->natts != receiver->columns)
        elog(ERROR, "statement of projection_offset returned %d columns, expected %d", typeinfo->natts,
             receiver->columns);
}

void sink_nothing(DestReceiver*) {}

}  // namespace

uint64_t SpiConnection::execute_into(Statement statement, const Datum* values, const char* nulls, int columns,
                                     RowSink& sink) {
    SPIPlanPtr plan = prepared(statement, nsp_).plan();
    const StatementSpec& s = spec(statement);
    ActiveCall running(&executing);
    return pg_call([&]() noexcept {
        // Parameters marked constant are folded into custom plans, which
        // copies each value into the plan: the whole events array. Citus
        // needs them so (it sends only constant parameters to its workers);
        // elsewhere they stay plain parameters, read in place.
        const bool constant = OidIsValid(get_extension_oid("citus", true));
        ParamListInfo params = makeParamList(s.nargs);
        for (int i = 0; i < s.nargs; ++i) {
            ParamExternData& p = params->params[i];
            p.value = values[i];
            p.isnull = nulls != nullptr && nulls[i] == 'n';
            p.pflags = constant ? PARAM_FLAG_CONST : 0;
            p.ptype = s.argtypes[i];
        }
        SinkReceiver receiver{};
        receiver.pub.receiveSlot = sink_receive;
        receiver.pub.rStartup = sink_startup;
        receiver.pub.rShutdown = sink_nothing;
        receiver.pub.rDestroy = sink_nothing;
        // Any kind but DestSPI (which collects SPI_tuptable) and DestNone
        // (which SPI reports as a utility statement).
        receiver.pub.mydest = DestTuplestore;
        receiver.sink = &sink;
        receiver.columns = columns;
        SPIExecuteOptions options{};
        options.params = params;
        options.read_only = false;
        options.dest = &receiver.pub;
        int rc = SPI_execute_plan_extended(plan, &options);
        if (rc != s.expected) elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
        pfree(params);
        return static_cast<uint64_t>(SPI_processed);
    });
}

void SpiConnection::finish() {
    pg_call([]() noexcept { SPI_finish(); });
}

}  // namespace po::pg
