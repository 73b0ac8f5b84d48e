// _projection_offset_inline(): the statement trigger (AFTER INSERT,
// REFERENCING NEW TABLE) that projection_register creates on the source of
// an inline handler. For each inline handler of the source that is running
// (not paused, rebuilding or stopped), it applies the rows the statement
// appended, of the handler's event types, in position order, through
// apply_with_offset_batch: in the appending transaction and as the
// appending role, so that a projector error aborts the append. Events the
// handler already applied (the same id appended again) are skipped, as
// apply_with_offset_batch skips any re-delivery.
//
// The rows go to apply_with_offset_batch in arrays of at most the
// handler's batch_size events, read through a cursor over the transition
// table, so that a large INSERT ... SELECT holds one array at a time.
#include <string>
#include <vector>

#include "spi.hpp"
#include "../core/validate.hpp"

extern "C" {
#include "nodes/value.h"
#include "parser/parse_func.h"
}

namespace po::pg {

namespace {

// One inline handler of the source, copied out of the registry.
struct InlineHandler {
    std::string name;
    std::string projector_name;  // as registered, for messages
    Oid projector = InvalidOid;  // InvalidOid: the registered function is gone
    std::string id_column, type_column, payload_column, position_column;
    Datum event_types = 0;  // text[], valid until SPI_finish
    bool all_types = true;
    int64 batch_size = 500;
};

// The inline handlers of a source that are running, in name order, with
// their projectors resolved now (as the signature was written, with the
// search_path pinned to pg_catalog). %1$s is the extension's schema.
constexpr const char* kHandlersSql =
    "SELECT h.handler_name, h.projector, %1$s._projection_offset_projector(h.projector)::pg_catalog.oid,"
    "       h.id_column, h.type_column, h.payload_column, h.position_column, h.event_types,"
    "       h.batch_size::pg_catalog.int8"
    " FROM %1$s.projection_offset_handler h"
    " WHERE h.source OPERATOR(pg_catalog.=) $1"
    "   AND h.mode OPERATOR(pg_catalog.=) 'inline'"
    "   AND h.state OPERATOR(pg_catalog.=) 'running'"
    " ORDER BY h.handler_name COLLATE pg_catalog.\"C\"";

// The events of the transition table for one handler, as JSON arrays of at
// most $2 events in position order (one row per array). $1 is the
// handler's event types, NULL for all. Identifiers: %1$s the transition
// table, %2$s id, %3$s type, %4$s payload, %5$s position.
constexpr const char* kEventsSql =
    "SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object("
    "           'event_id', e.id, 'payload', e.payload, 'position', e.pos) ORDER BY e.pos, e.rn)"
    " FROM (SELECT n.%2$s::pg_catalog.text AS id, n.%4$s AS payload, n.%5$s::pg_catalog.int8 AS pos,"
    "              pg_catalog.row_number() OVER (ORDER BY n.%5$s) AS rn"
    "       FROM %1$s AS n"
    "       WHERE $1 IS NULL OR n.%3$s::pg_catalog.text OPERATOR(pg_catalog.=) ANY ($1)) AS e"
    " GROUP BY (e.rn OPERATOR(pg_catalog.-) 1) OPERATOR(pg_catalog./) $2"
    " ORDER BY (e.rn OPERATOR(pg_catalog.-) 1) OPERATOR(pg_catalog./) $2";

// The plan of kHandlersSql, kept for the backend; prepared again when the
// extension's schema is renamed (its text names the schema).
SPIPlanPtr handlers_plan = nullptr;
std::string handlers_plan_schema;

TriggerData* trigger_data(FunctionCallInfo fcinfo) {
    return pg_call([fcinfo]() noexcept {
        if (!CALLED_AS_TRIGGER(fcinfo))
            ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                            errmsg("_projection_offset_inline() must be called as a trigger")));
        auto* data = reinterpret_cast<TriggerData*>(fcinfo->context);
        if (!TRIGGER_FIRED_AFTER(data->tg_event) || !TRIGGER_FIRED_FOR_STATEMENT(data->tg_event) ||
            !TRIGGER_FIRED_BY_INSERT(data->tg_event) || data->tg_newtable == nullptr ||
            data->tg_trigger->tgnewtable == nullptr)
            ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                            errmsg("_projection_offset_inline() must be fired AFTER INSERT FOR EACH "
                                   "STATEMENT with a NEW TABLE transition table")));
        return data;
    });
}


SPIPlanPtr handlers_statement(const std::string& schema) {
    if (handlers_plan && handlers_plan_schema == schema) return handlers_plan;
    if (handlers_plan) {
        SPIPlanPtr old = handlers_plan;
        handlers_plan = nullptr;
        pg_call([old]() noexcept { SPI_freeplan(old); });
    }
    const char* schema_c = schema.c_str();
    SPIPlanPtr plan = pg_call([schema_c]() noexcept {
        Oid argtypes[1] = {REGCLASSOID};
        SPIPlanPtr p = SPI_prepare(psprintf(kHandlersSql, schema_c), 1, argtypes);
        if (p == nullptr) elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
        SPI_keepplan(p);
        return p;
    });
    handlers_plan = plan;
    handlers_plan_schema = schema;
    return plan;
}

// A text column of the handlers' result, copied.
std::string text_column(SPITupleTable* table, uint64 row, int column) {
    const char* value =
        pg_call([=]() noexcept { return SPI_getvalue(table->vals[row], table->tupdesc, column); });
    return value ? std::string(value) : std::string();
}

std::vector<InlineHandler> running_inline_handlers(const std::string& schema, Oid source) {
    SPIPlanPtr plan = handlers_statement(schema);
    struct Result {
        uint64 rows;
        SPITupleTable* table;
    };
    const Result result = pg_call([plan, source]() noexcept {
        Datum values[1] = {ObjectIdGetDatum(source)};
        const int rc = SPI_execute_plan(plan, values, nullptr, false, 0);
        if (rc != SPI_OK_SELECT) elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
        return Result{SPI_processed, SPI_tuptable};
    });
    std::vector<InlineHandler> handlers;
    if (result.rows == 0) return handlers;
    if (result.table == nullptr || result.table->numvals != result.rows ||
        result.table->tupdesc->natts != 9) {
        raise(Problem{"XX000", "unexpected result of the inline handlers of a source", "", ""});
    }
    // The table stays allocated until SPI_finish: event_types points into it.
    for (uint64 row = 0; row < result.rows; ++row) {
        check_for_interrupts();
        InlineHandler h;
        h.name = text_column(result.table, row, 1);
        h.projector_name = text_column(result.table, row, 2);
        struct Binary {
            Oid projector;
            Datum event_types;
            bool all_types;
            int64 batch_size;
        };
        const Binary b = pg_call([&]() noexcept {
            bool isnull = true;
            HeapTuple tuple = result.table->vals[row];
            TupleDesc desc = result.table->tupdesc;
            Binary out{InvalidOid, 0, true, 500};
            Datum projector = SPI_getbinval(tuple, desc, 3, &isnull);
            if (!isnull) out.projector = DatumGetObjectId(projector);
            Datum types = SPI_getbinval(tuple, desc, 8, &isnull);
            out.all_types = isnull;
            if (!isnull) out.event_types = types;
            Datum size = SPI_getbinval(tuple, desc, 9, &isnull);
            if (!isnull) out.batch_size = DatumGetInt64(size);
            return out;
        });
        h.projector = b.projector;
        h.event_types = b.event_types;
        h.all_types = b.all_types;
        h.batch_size = b.batch_size > 0 ? b.batch_size : 500;
        h.id_column = text_column(result.table, row, 4);
        h.type_column = text_column(result.table, row, 5);
        h.payload_column = text_column(result.table, row, 6);
        h.position_column = text_column(result.table, row, 7);
        handlers.push_back(std::move(h));
    }
    return handlers;
}


// apply_with_offset_batch(text, regprocedure, jsonb) of the extension, with
// the EXECUTE privilege of the appending role checked as a SQL call would.
Oid batch_function(Oid nsp) {
    return pg_call([nsp]() noexcept {
        const char* schema = get_namespace_name(nsp);
        Oid argtypes[3] = {TEXTOID, REGPROCEDUREOID, JSONBOID};
        List* name = list_make2(makeString(pstrdup(schema ? schema : "")),
                                makeString(pstrdup("apply_with_offset_batch")));
        const Oid fn = LookupFuncName(name, 3, argtypes, false);
#if PG_VERSION_NUM >= 160000
        AclResult acl = object_aclcheck(ProcedureRelationId, fn, GetUserId(), ACL_EXECUTE);
#else
        AclResult acl = pg_proc_aclcheck(fn, GetUserId(), ACL_EXECUTE);
#endif
        if (acl != ACLCHECK_OK) aclcheck_error(acl, OBJECT_FUNCTION, "apply_with_offset_batch");
        InvokeFunctionExecuteHook(fn);
        return fn;
    });
}

void inline_error_context(void* arg) { errcontext("%s", static_cast<const char*>(arg)); }

// Applies one array of events for a handler; an error gets a context line
// naming the handler and the table.
void apply_events(FmgrInfo* batch, const InlineHandler& handler, Datum events, const std::string& context) {
    const char* name = handler.name.c_str();
    const Oid projector = handler.projector;
    const char* context_line = context.c_str();
    pg_call([&]() noexcept {
        ErrorContextCallback callback;
        callback.callback = inline_error_context;
        callback.arg = const_cast<char*>(context_line);
        callback.previous = error_context_stack;
        error_context_stack = &callback;

        LOCAL_FCINFO(call, 3);
        InitFunctionCallInfoData(*call, batch, 3, InvalidOid, nullptr, nullptr);
        call->args[0].value = PointerGetDatum(cstring_to_text(name));
        call->args[0].isnull = false;
        call->args[1].value = ObjectIdGetDatum(projector);
        call->args[1].isnull = false;
        call->args[2].value = events;
        call->args[2].isnull = false;
        (void)FunctionCallInvoke(call);

        error_context_stack = callback.previous;
    });
}

// Applies the transition table to one handler.
void apply_handler(const InlineHandler& handler, FmgrInfo* batch, const std::string& transition_table,
                   const std::string& table_name) {
    if (handler.projector == InvalidOid) {
        raise(Problem{
            sqlstate::undefined_function,
            "projector function " + excerpt(handler.projector_name, 256) + " of projection handler \"" +
                excerpt(handler.name) + "\" does not exist",
            "Inserting into " + table_name + " applies its events to the inline handlers of the table.",
            "Create the function again, or pause or unregister the handler."});
    }
    const std::string sql = [&] {
        const std::string t = transition_table, id = quoted_identifier(handler.id_column),
                          type = quoted_identifier(handler.type_column),
                          payload = quoted_identifier(handler.payload_column),
                          pos = quoted_identifier(handler.position_column);
        const char* parts[5] = {t.c_str(), id.c_str(), type.c_str(), payload.c_str(), pos.c_str()};
        const char* text = pg_call([&]() noexcept {
            return psprintf(kEventsSql, parts[0], parts[1], parts[2], parts[3], parts[4]);
        });
        return std::string(text);
    }();
    const std::string context =
        "projection_offset inline handler \"" + excerpt(handler.name) + "\" on table " + table_name;

    const char* sql_c = sql.c_str();
    const Datum types = handler.event_types;
    const bool all_types = handler.all_types;
    const int64 batch_size = handler.batch_size;
    Portal portal = pg_call([&]() noexcept {
        Oid argtypes[2] = {TEXTARRAYOID, INT8OID};
        Datum values[2] = {types, Int64GetDatum(batch_size)};
        const char nulls[2] = {all_types ? 'n' : ' ', ' '};
        Portal p = SPI_cursor_open_with_args(nullptr, sql_c, 2, argtypes, values, nulls, false, 0);
        if (p == nullptr)
            elog(ERROR, "SPI_cursor_open_with_args failed: %s", SPI_result_code_string(SPI_result));
        return p;
    });
    for (;;) {
        check_for_interrupts();
        struct Fetched {
            uint64 rows;
            bool ok;
            bool isnull;
            Datum events;
            SPITupleTable* table;
        };
        const Fetched f = pg_call([portal]() noexcept {
            SPI_cursor_fetch(portal, true, 1);
            Fetched out{SPI_processed, false, true, 0, SPI_tuptable};
            if (out.rows == 1 && out.table != nullptr && out.table->numvals == 1 &&
                out.table->tupdesc->natts == 1) {
                out.ok = true;
                out.events = SPI_getbinval(out.table->vals[0], out.table->tupdesc, 1, &out.isnull);
            }
            return out;
        });
        if (f.rows == 0) break;
        if (!f.ok || f.isnull)
            raise(Problem{"XX000", "unexpected result of the events of an inline handler", "", ""});
        apply_events(batch, handler, f.events, context);
        SPITupleTable* table = f.table;
        pg_call([table]() noexcept { SPI_freetuptable(table); });
    }
    pg_call([portal]() noexcept { SPI_cursor_close(portal); });
}

Datum projection_offset_inline(FunctionCallInfo fcinfo) {
    TriggerData* data = trigger_data(fcinfo);
    // A statement that inserted no row applies nothing.
    const int64 appended = pg_call([data]() noexcept { return tuplestore_tuple_count(data->tg_newtable); });
    if (appended == 0) return PointerGetDatum(nullptr);

    const Oid nsp = extension_namespace(fcinfo);
    const std::string schema = quoted_schema(nsp);
    const Oid source = pg_call([data]() noexcept { return RelationGetRelid(data->tg_relation); });
    const std::string table_name = pg_call([data]() noexcept {
        return static_cast<const char*>(
            quote_qualified_identifier(get_namespace_name(RelationGetNamespace(data->tg_relation)),
                                       RelationGetRelationName(data->tg_relation)));
    });
    const std::string transition_table = pg_call([data]() noexcept {
        return static_cast<const char*>(quote_identifier(data->tg_trigger->tgnewtable));
    });

    pg_call([data]() noexcept {
        if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
        const int rc = SPI_register_trigger_data(data);
        if (rc != SPI_OK_TD_REGISTER)
            elog(ERROR, "SPI_register_trigger_data failed: %s", SPI_result_code_string(rc));
    });
    const std::vector<InlineHandler> handlers = running_inline_handlers(schema, source);
    if (!handlers.empty()) {
        const Oid fn = batch_function(nsp);
        FmgrInfo* batch = pg_call([fn]() noexcept {
            auto* info = static_cast<FmgrInfo*>(palloc0(sizeof(FmgrInfo)));
            fmgr_info(fn, info);
            return info;
        });
        for (const InlineHandler& handler : handlers) {
            check_for_interrupts();
            apply_handler(handler, batch, transition_table, table_name);
        }
    }
    pg_call([]() noexcept { SPI_finish(); });
    return PointerGetDatum(nullptr);
}

}  // namespace

}  // namespace po::pg

PO_SQL_FUNCTION(po_projection_offset_inline, po::pg::projection_offset_inline)
