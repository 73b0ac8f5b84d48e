#include "spi.hpp"

#include <array>
#include <string>

namespace po::pg {

namespace {

struct StatementSpec {
    const char* sql;  // %1$s is the quoted extension schema
    int nargs;
    std::array<Oid, 3> argtypes;
    int expected;  // SPI_OK_* code
};

// Operators and functions are schema-qualified: the caller's search_path may
// hold look-alikes, and plancache re-analyses under the current search_path.
const StatementSpec& spec(Statement statement) {
    static const std::array<StatementSpec, static_cast<size_t>(Statement::Count_)> specs{{
        {"INSERT INTO %1$s.projection_offset (\"eventId\", \"handlerName\", \"payloadHash\")"
         " VALUES ($1, $2, $3)"
         " ON CONFLICT (\"eventId\", \"handlerName\") DO NOTHING"
         " RETURNING true",
         3, {TEXTOID, TEXTOID, TEXTOID}, SPI_OK_INSERT_RETURNING},
        {"SELECT \"payloadHash\" FROM %1$s.projection_offset"
         " WHERE \"eventId\" OPERATOR(pg_catalog.=) $1"
         " AND \"handlerName\" OPERATOR(pg_catalog.=) $2",
         2, {TEXTOID, TEXTOID}, SPI_OK_SELECT},
        // Rows are inserted in a fixed (C collation) order so that two batches
        // sharing ids wait on each other in the same order and cannot deadlock;
        // the result keeps the order of first appearance in the array.
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
         " JOIN input ON input.id OPERATOR(pg_catalog.=) recorded.\"eventId\""
         " ORDER BY input.ord",
         2, {TEXTARRAYOID, TEXTOID}, SPI_OK_SELECT},
    }};
    return specs[static_cast<size_t>(statement)];
}

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

SPIPlanPtr prepared(Statement statement, Oid nsp) {
    if (cache.stale || cache.nsp != nsp) {
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

Oid extension_namespace(FunctionCallInfo fcinfo) {
    FmgrInfo* flinfo = fcinfo->flinfo;
    if (flinfo->fn_extra) return *static_cast<Oid*>(flinfo->fn_extra);
    return pg_call([&]() noexcept {
        Oid nsp = get_func_namespace(flinfo->fn_oid);
        Oid* slot = static_cast<Oid*>(MemoryContextAlloc(flinfo->fn_mcxt, sizeof(Oid)));
        *slot = nsp;
        flinfo->fn_extra = slot;
        return nsp;
    });
}

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
    return pg_call([&]() noexcept {
        int rc = SPI_execute_plan(plan, const_cast<Datum*>(values), nulls, false, limit);
        if (rc != expected) elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
        return static_cast<uint64_t>(SPI_processed);
    });
}

void SpiConnection::finish() {
    pg_call([]() noexcept { SPI_finish(); });
}

}  // namespace po::pg
