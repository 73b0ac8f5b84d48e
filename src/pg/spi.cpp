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
        // ClaimEvents: the batch form's claim, from the events array itself
        // (jsonb, $1), the way hand-written SQL would do it, so that no
        // per-event copy is held outside the executor. Each event's payload
        // hash is computed once (OFFSET 0 keeps the subquery from being
        // flattened, which would copy the hash expression into first_value's
        // argument and evaluate it twice). The first occurrence of each id
        // is recorded with its hash, in the same lock order as
        // ClaimBatchIds; unless every id was recorded now, the rows stored
        // as of the statement's snapshot are read with their hashes, so that
        // a re-delivery needs no second statement. A batch of fresh events
        // is not looked up at all, and none of its ids is compared with a
        // row its snapshot still saw (one a concurrent offset_release
        // deleted and committed while the insert waited: forgotten, hash
        // included). Looking up only the ids not recorded would take an
        // anti-join of the two CTEs, which a generic plan's estimates make a
        // nested loop (quadratic in the batch), or an EXCEPT, whose hash
        // table does not spill (memory linear in the batch).
        // Rows (ordinal, kind, n, stored hash, given hash):
        //   kind 1  a first occurrence recorded now
        //   kind 6  a later occurrence of an id recorded now whose hash
        //           differs from the first occurrence's (then stored)
        //   kind 4  an occurrence of an id stored before, with another hash
        //   kind 0  n = the number of distinct ids
        //   kind 5  n = how many of them were found stored before
        {"WITH numbered AS MATERIALIZED ("
         "  SELECT u.id, u.hash, u.ord,"
         "         pg_catalog.row_number() OVER w AS rn, pg_catalog.first_value(u.hash) OVER w AS first_hash"
         "  FROM (SELECT e.value OPERATOR(pg_catalog.->>) 'event_id' AS id,"
         "               " PO_PAYLOAD_HASH("(e.value OPERATOR(pg_catalog.->) 'payload')") " AS hash, e.ord"
         "        FROM pg_catalog.jsonb_array_elements($1) WITH ORDINALITY AS e(value, ord) OFFSET 0) AS u"
         "  WINDOW w AS (PARTITION BY u.id ORDER BY u.ord)),"
         " firsts AS (SELECT n.id, n.hash FROM numbered n WHERE n.rn OPERATOR(pg_catalog.=) 1),"
         " recorded AS ("
         "  INSERT INTO %1$s.projection_offset (\"eventId\", \"handlerName\", \"payloadHash\")"
         "  SELECT firsts.id, $2, firsts.hash FROM firsts"
         "  ORDER BY firsts.id COLLATE pg_catalog.\"C\""
         "  ON CONFLICT (\"eventId\", \"handlerName\") DO NOTHING"
         "  RETURNING \"eventId\"),"
         " stored AS ("
         "  SELECT o.\"eventId\" AS id, o.\"payloadHash\" AS hash"
         "  FROM firsts JOIN %1$s.projection_offset o ON" PO_KEY_IS("o", "firsts.id", "$2")
         "  WHERE (SELECT pg_catalog.count(*) FROM recorded) OPERATOR(pg_catalog.<)"
         "        (SELECT pg_catalog.count(*) FROM firsts))"
         " SELECT n.ord, CASE WHEN n.rn OPERATOR(pg_catalog.=) 1 THEN 1 ELSE 6 END, NULL::pg_catalog.int8,"
         "  n.first_hash, n.hash"
         " FROM recorded JOIN numbered n ON n.id" PO_EQ "recorded.\"eventId\""
         " WHERE n.rn OPERATOR(pg_catalog.=) 1 OR n.hash OPERATOR(pg_catalog.<>) n.first_hash"
         " UNION ALL"
         " SELECT n.ord, 4, NULL, s.hash, n.hash FROM numbered n JOIN stored s ON s.id" PO_EQ "n.id"
         " WHERE s.hash OPERATOR(pg_catalog.<>) n.hash"
         " UNION ALL"
         " SELECT NULL, 0, (SELECT pg_catalog.count(*) FROM firsts), NULL, NULL"
         " UNION ALL"
         " SELECT NULL, 5, (SELECT pg_catalog.count(*) FROM stored), NULL, NULL",
         2, {JSONBOID, TEXTOID}, SPI_OK_SELECT},
        // ClaimEventsAt: the same for events with positions, which also skips
        // positions at or below the checkpoint and records the positions of
        // what it claims. Further rows: kind 2, a first occurrence skipped
        // as at or below the checkpoint; kind 3, n = the positions recorded.
        // Kind 5 counts the ids found stored that are above the checkpoint.
        {"WITH numbered AS MATERIALIZED ("
         "  SELECT u.id, u.hash, u.pos, u.ord,"
         "         pg_catalog.row_number() OVER w AS rn, pg_catalog.first_value(u.hash) OVER w AS first_hash"
         "  FROM (SELECT e.value OPERATOR(pg_catalog.->>) 'event_id' AS id,"
         "               " PO_PAYLOAD_HASH("(e.value OPERATOR(pg_catalog.->) 'payload')") " AS hash,"
         "               (e.value OPERATOR(pg_catalog.->>) 'position')::pg_catalog.numeric::pg_catalog.int8 AS pos,"
         "               e.ord"
         "        FROM pg_catalog.jsonb_array_elements($1) WITH ORDINALITY AS e(value, ord) OFFSET 0) AS u"
         "  WINDOW w AS (PARTITION BY u.id ORDER BY u.ord)),"
         " cp AS ("
         "  SELECT c.\"position\" FROM %1$s.projection_offset_checkpoint c"
         "  WHERE c.\"handlerName\"" PO_EQ "$2),"
         " firsts AS ("
         "  SELECT n.id, n.hash, n.pos, n.ord,"
         "         EXISTS (SELECT FROM cp WHERE cp.\"position\" OPERATOR(pg_catalog.>=) n.pos) AS below"
         "  FROM numbered n WHERE n.rn OPERATOR(pg_catalog.=) 1),"
         " recorded AS ("
         "  INSERT INTO %1$s.projection_offset (\"eventId\", \"handlerName\", \"payloadHash\")"
         "  SELECT firsts.id, $2, firsts.hash FROM firsts WHERE NOT firsts.below"
         "  ORDER BY firsts.id COLLATE pg_catalog.\"C\""
         "  ON CONFLICT (\"eventId\", \"handlerName\") DO NOTHING"
         "  RETURNING \"eventId\"),"
         " stored AS ("
         "  SELECT o.\"eventId\" AS id, o.\"payloadHash\" AS hash, firsts.below"
         "  FROM firsts JOIN %1$s.projection_offset o ON" PO_KEY_IS("o", "firsts.id", "$2")
         "  WHERE (SELECT pg_catalog.count(*) FROM recorded) OPERATOR(pg_catalog.<)"
         "        (SELECT pg_catalog.count(*) FROM firsts)),"
         " positioned AS ("
         "  INSERT INTO %1$s.projection_offset_position (\"eventId\", \"handlerName\", \"position\")"
         "  SELECT recorded.\"eventId\", $2, firsts.pos"
         "  FROM recorded JOIN firsts ON firsts.id" PO_EQ "recorded.\"eventId\""
         "  WHERE firsts.pos IS NOT NULL"
         "  ON CONFLICT (\"eventId\", \"handlerName\") DO NOTHING"
         "  RETURNING true)"
         " SELECT n.ord, CASE WHEN n.rn OPERATOR(pg_catalog.=) 1 THEN 1 ELSE 6 END, NULL::pg_catalog.int8,"
         "  n.first_hash, n.hash"
         " FROM recorded JOIN numbered n ON n.id" PO_EQ "recorded.\"eventId\""
         " WHERE n.rn OPERATOR(pg_catalog.=) 1 OR n.hash OPERATOR(pg_catalog.<>) n.first_hash"
         " UNION ALL"
         " SELECT n.ord, 4, NULL, s.hash, n.hash FROM numbered n JOIN stored s ON s.id" PO_EQ "n.id"
         " WHERE s.hash OPERATOR(pg_catalog.<>) n.hash"
         " UNION ALL"
         " SELECT firsts.ord, 2, NULL, NULL, NULL FROM firsts WHERE firsts.below"
         " UNION ALL"
         " SELECT NULL, 0, (SELECT pg_catalog.count(*) FROM firsts), NULL, NULL"
         " UNION ALL"
         " SELECT NULL, 3, (SELECT pg_catalog.count(*) FROM positioned), NULL, NULL"
         " UNION ALL"
         " SELECT NULL, 5, (SELECT pg_catalog.count(*) FROM stored WHERE NOT stored.below), NULL, NULL",
         2, {JSONBOID, TEXTOID}, SPI_OK_SELECT},
        // DivergentEvents: after the claim, when some id was neither
        // recorded nor found stored by it (a row a concurrent transaction
        // committed after the claim's snapshot), with a new snapshot that
        // sees it. Rows (ordinal, stored, given): each event whose payload
        // hash differs from the stored one.
        {"SELECT h.ord, h.stored, h.given FROM ("
         "  SELECT e.ord, o.\"payloadHash\" AS stored,"
         "         " PO_PAYLOAD_HASH("(e.value OPERATOR(pg_catalog.->) 'payload')") " AS given"
         "  FROM pg_catalog.jsonb_array_elements($1) WITH ORDINALITY AS e(value, ord)"
         "  JOIN %1$s.projection_offset o"
         "   ON" PO_KEY_IS("o", "(e.value OPERATOR(pg_catalog.->>) 'event_id')", "$2")
         "  WHERE o.\"payloadHash\" IS NOT NULL) AS h"
         " WHERE h.stored OPERATOR(pg_catalog.<>) h.given",
         2, {JSONBOID, TEXTOID}, SPI_OK_SELECT},
        // MissingEvents: the same snapshot; rows (ordinal, NULL, NULL) for
        // the first occurrence of each id that is not stored at all.
        {"SELECT firsts.ord, NULL::pg_catalog.text, NULL::pg_catalog.text FROM ("
         "  SELECT DISTINCT ON (u.id) u.id, u.ord"
         "  FROM (SELECT e.value OPERATOR(pg_catalog.->>) 'event_id' AS id, e.ord"
         "        FROM pg_catalog.jsonb_array_elements($1) WITH ORDINALITY AS e(value, ord)) AS u"
         "  ORDER BY u.id, u.ord) AS firsts"
         " WHERE NOT EXISTS (SELECT FROM %1$s.projection_offset o"
         "                   WHERE" PO_KEY_IS("o", "firsts.id", "$2") ")",
         2, {JSONBOID, TEXTOID}, SPI_OK_SELECT},
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
