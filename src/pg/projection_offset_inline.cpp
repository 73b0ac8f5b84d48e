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
KeptPlan handlers_plan;
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

std::vector<InlineHandler> running_inline_handlers(const std::string& schema, Oid source) {
    if (!handlers_plan.ready() || handlers_plan_schema != schema) {
        const char* schema_c = schema.c_str();
        const char* sql = pg_call([schema_c]() noexcept { return psprintf(kHandlersSql, schema_c); });
        const Oid argtypes[1] = {REGCLASSOID};
        handlers_plan.prepare(sql, 1, argtypes, "the inline handlers of a source", SPI_OK_SELECT);
        handlers_plan_schema = schema;
    }
    Datum values[1] = {ObjectIdGetDatum(source)};
    const SpiResult result = handlers_plan.run(values, nullptr);
    result.expect(9);
    std::vector<InlineHandler> handlers;
    // The table stays allocated until SPI_finish: event_types points into it.
    for (uint64 row = 0; row < result.rows(); ++row) {
        check_for_interrupts();
        InlineHandler h;
        h.name = result.text_at(row, 1).value_or("");
        h.projector_name = result.text_at(row, 2).value_or("");
        h.projector = result.oid_at(row, 3).value_or(InvalidOid);
        h.id_column = result.text_at(row, 4).value_or("");
        h.type_column = result.text_at(row, 5).value_or("");
        h.payload_column = result.text_at(row, 6).value_or("");
        h.position_column = result.text_at(row, 7).value_or("");
        const std::optional<Datum> types = result.datum_at(row, 8);
        h.all_types = !types;
        h.event_types = types.value_or(0);
        const int64 size = result.int64_at(row, 9).value_or(500);
        h.batch_size = size > 0 ? size : 500;
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
        SpiResult fetched = fetch(portal, 1, "the events of an inline handler");
        if (fetched.rows() == 0) break;
        fetched.expect(1, 1);
        const std::optional<Datum> events = fetched.datum_at(0, 1);
        if (!events) fetched.unexpected();
        apply_events(batch, handler, *events, context);
        fetched.free();
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
