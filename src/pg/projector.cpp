#include "projector.hpp"

#include <unordered_map>

#include "../core/validate.hpp"
#include "active_call.hpp"

namespace po::pg {

namespace {

struct CacheEntry {
    Projector projector;
    bool valid = false;
    // The role whose EXECUTE privilege was last confirmed. GRANT and REVOKE
    // change pg_proc and role changes pg_authid or pg_auth_members, whose
    // invalidation callbacks clear it.
    Oid execute_checked_for = InvalidOid;
};

std::unordered_map<Oid, CacheEntry> cache;
MemoryContext cache_cxt = nullptr;

// Each projector's FmgrInfo lives in a context of its own, where the
// function's handler also keeps its per-call-site state (fn_extra). When the
// catalog changes, the entry gets a new context and the old one is retired:
// it is deleted only once no projector call is running, since the old
// FmgrInfo may be executing further up the stack (a projector that calls
// apply_with_offset).
std::vector<MemoryContext> retired;
std::vector<SqlBody*> retired_bodies;
int running_calls = 0;

void delete_retired() {
    if (running_calls > 0) return;
    while (!retired.empty()) {
        MemoryContext doomed = retired.back();
        retired.pop_back();
        pg_call([&]() noexcept { MemoryContextDelete(doomed); });
    }
    while (!retired_bodies.empty()) {
        SqlBody* doomed = retired_bodies.back();
        retired_bodies.pop_back();
        pg_call([&]() noexcept { sql_body_drop(doomed); });
    }
}

ArgType arg_type(Oid type) {
    switch (type) {
        case TEXTOID: return ArgType::Text;
        case JSONBOID: return ArgType::Jsonb;
        case TEXTARRAYOID: return ArgType::TextArray;
        case JSONBARRAYOID: return ArgType::JsonbArray;
        default: return ArgType::Other;
    }
}

RoutineKind routine_kind(char prokind) {
    switch (prokind) {
        case PROKIND_PROCEDURE: return RoutineKind::Procedure;
        case PROKIND_AGGREGATE: return RoutineKind::Aggregate;
        case PROKIND_WINDOW: return RoutineKind::Window;
        default: return RoutineKind::Function;
    }
}

struct CatalogFacts {
    bool found;
    char prokind;
    bool retset;
    bool strict;
    bool sql_fast;
    int nargs;
    Oid argtypes[FUNC_MAX_ARGS];
};

void describe(Oid oid, Projector& out, bool batch) {
    CatalogFacts facts{};
    pg_call([&]() noexcept {
        HeapTuple tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(oid));
        if (!HeapTupleIsValid(tuple)) return;
        auto* proc = reinterpret_cast<Form_pg_proc>(GETSTRUCT(tuple));
        facts.found = true;
        facts.prokind = proc->prokind;
        facts.retset = proc->proretset;
        facts.strict = proc->proisstrict;
        facts.sql_fast = sql_body_eligible(tuple);
        facts.nargs = proc->pronargs;
        for (int i = 0; i < proc->pronargs; ++i) facts.argtypes[i] = proc->proargtypes.values[i];
        ReleaseSysCache(tuple);
    });
    if (!facts.found) {
        // A function dropped since it was last resolved (during a batch, say)
        // is named as it was.
        if (out.oid == oid && !out.name.empty()) {
            raise(Problem{sqlstate::undefined_function, "projector function " + out.name + " does not exist",
                          "", ""});
        }
        raise(Problem{sqlstate::undefined_function,
                      "projector function with OID " + std::to_string(oid) + " does not exist", "", ""});
    }
    char* display = pg_call([&]() noexcept { return format_procedure(oid); });
    RoutineShape shape{display, routine_kind(facts.prokind), {}, facts.retset};
    for (int i = 0; i < facts.nargs; ++i) shape.args.push_back(arg_type(facts.argtypes[i]));

    // Cached as the batch form sees it; a problem is worded for the caller.
    auto verdict = classify_projector(shape, true);
    if (std::holds_alternative<Problem>(verdict)) {
        raise(std::get<Problem>(classify_projector(shape, batch)));
    }

    out.oid = oid;
    out.shape = shape;
    out.form = std::get<CallForm>(verdict);
    out.strict = facts.strict;
    out.sql_fast = facts.sql_fast;
    out.name = shape.display_name;
    if (out.cxt) {
        retired.push_back(out.cxt);
        out.cxt = nullptr;
        out.flinfo = nullptr;
    }
    if (out.sql_body) {
        retired_bodies.push_back(out.sql_body);
        out.sql_body = nullptr;
    }
    MemoryContext cxt = pg_call([&]() noexcept {
        if (!cache_cxt)
            cache_cxt = AllocSetContextCreate(CacheMemoryContext, "projection_offset projectors",
                                              ALLOCSET_SMALL_SIZES);
        return AllocSetContextCreate(cache_cxt, "projection_offset projector", ALLOCSET_SMALL_SIZES);
    });
    out.cxt = cxt;
    out.flinfo = pg_call([&]() noexcept {
        auto* flinfo = static_cast<FmgrInfo*>(MemoryContextAllocZero(cxt, sizeof(FmgrInfo)));
        fmgr_info_cxt(oid, flinfo, cxt);
        return flinfo;
    });
}

void check_execute_privilege(CacheEntry& entry) {
    const Oid oid = entry.projector.oid;
    const char* name = entry.projector.name.c_str();
    const Oid user = pg_call([]() noexcept { return GetUserId(); });
    const bool known = entry.execute_checked_for == user;
    pg_call([&]() noexcept {
        if (!known) {
#if PG_VERSION_NUM >= 160000
            // PostgreSQL 16 replaced the per-catalog ACL checks with one.
            AclResult acl = object_aclcheck(ProcedureRelationId, oid, user, ACL_EXECUTE);
#else
            AclResult acl = pg_proc_aclcheck(oid, user, ACL_EXECUTE);
#endif
            if (acl != ACLCHECK_OK) aclcheck_error(acl, OBJECT_FUNCTION, name);
        }
        InvokeFunctionExecuteHook(oid);
    });
    entry.execute_checked_for = user;
}

struct ErrorContextArgs {
    const char* handler;  // null: `what` is the whole line
    const char* what;     // "event \"...\"" or "a batch of N events"
};

void projector_error_context(void* arg) {
    auto* args = static_cast<ErrorContextArgs*>(arg);
    if (args->handler)
        errcontext("projection_offset projector for handler \"%s\", %s", args->handler, args->what);
    else
        errcontext("%s", args->what);
}

// Calls the projector with nargs arguments under an error context line.
// A nested call of a projector already running (one that applies further
// events with itself) gets an FmgrInfo of its own.
void invoke(const Projector& projector, const ErrorContextArgs& context, int nargs, const Datum* args,
            const bool* nulls, Oid collation);

}  // namespace

const Projector& resolve_projector(Oid oid, bool batch) {
    delete_retired();
    CacheEntry& entry = cache[oid];
    if (!entry.valid || entry.projector.failed) {
        entry.execute_checked_for = InvalidOid;
        // Marked valid before the catalog is read, so that an invalidation
        // arriving during describe() is not overwritten.
        entry.valid = true;
        entry.projector.failed = false;
        try {
            describe(oid, entry.projector, batch);
        } catch (...) {
            entry.valid = false;
            throw;
        }
    }
    check_execute_privilege(entry);
    return entry.projector;
}

const Projector& projector_arg(FunctionCallInfo fcinfo, int n, bool batch, ProjectorGiven given) {
    if (PG_ARGISNULL(n)) {
        raise(Problem{sqlstate::null_value_not_allowed, "projector must not be null", "", ""});
    }
    const Oid oid = given == ProjectorGiven::Oid ? PG_GETARG_OID(n) : projector_oid_from_text(fcinfo, n);
    const Projector& projector = resolve_projector(oid, batch);
    if (!batch && projector.form == CallForm::Batch) {
        raise(std::get<Problem>(classify_projector(projector.shape, false)));
    }
    return projector;
}

const Projector& current_projector(const Projector& projector, bool batch) {
    return resolve_projector(projector.oid, batch);
}

void check_strict_payload(const Projector& projector, bool payload_isnull, const std::string& where) {
    if (!payload_isnull || !projector.strict) return;
    raise(Problem{sqlstate::null_value_not_allowed, where + " for strict projector " + projector.name,
                  "A strict function is not called with a null argument, so the event would "
                  "be recorded without being applied.",
                  ""});
}

Oid projector_oid_from_text(FunctionCallInfo fcinfo, int n) {
    // Parsed as regprocedure input is, under the caller's search_path, so a
    // string gives the same function either way; a name without an argument
    // list is looked up as regproc input is, and must be unique.
    text* given = pg_call([&]() noexcept { return PG_GETARG_TEXT_PP(n); });
    if (VARSIZE_ANY_EXHDR(given) == 0) {
        raise(Problem{sqlstate::invalid_parameter_value, "projector must not be empty", "",
                      "Name the function as schema.name(argument types) or as a unique schema.name."});
    }
    return pg_call([&]() noexcept {
        char* name = text_to_cstring(given);
        const bool with_args = strchr(name, '(') != nullptr;
        Datum oid = with_args ? DirectFunctionCall1(regprocedurein, CStringGetDatum(name))
                              : DirectFunctionCall1(regprocin, CStringGetDatum(name));
        pfree(name);
        return DatumGetObjectId(oid);
    });
}

void invalidate_projectors() {
    for (auto& item : cache) item.second.valid = false;
}

void invalidate_projector_privileges() {
    for (auto& item : cache) item.second.execute_checked_for = InvalidOid;
}

namespace {

void invoke(const Projector& projector, const ErrorContextArgs& context, int nargs, const Datum* args,
            const bool* nulls, Oid collation) {
    FmgrInfo* flinfo = projector.flinfo;
    if (projector.running > 0 || projector.failed || flinfo == nullptr) {
        const Oid oid = projector.oid;
        flinfo = pg_call([&]() noexcept {
            auto* own = static_cast<FmgrInfo*>(palloc0(sizeof(FmgrInfo)));
            fmgr_info(oid, own);
            return own;
        });
    }
    ActiveCall running(&running_calls);
    ActiveCall running_this(&projector.running);
    // A function handler may keep the failed call's state in fn_extra (a SQL
    // function keeps its half-run query), and a savepoint rollback does not
    // reset it: after an error the cached FmgrInfo is never called again.
    struct MarkFailedOnError {
        const Projector& projector;
        ~MarkFailedOnError() {
            if (std::uncaught_exceptions() > 0) projector.failed = true;
        }
    } mark{projector};
    // The kept plans serve the outermost call only: a nested call of the
    // same projector, or one after an error, goes through fmgr_sql.
    const bool fast = projector.sql_fast && cache_sql_projectors && projector.running == 1 &&
                      !projector.failed && flinfo == projector.flinfo;
    SqlBody** body_slot = &projector.sql_body;
    const Oid oid = projector.oid;
    pg_call([&]() noexcept {
        ErrorContextCallback callback;
        callback.callback = projector_error_context;
        callback.arg = const_cast<ErrorContextArgs*>(&context);
        callback.previous = error_context_stack;
        error_context_stack = &callback;

        SqlBody* body = fast ? sql_body_ready(body_slot, oid, collation) : nullptr;
        LOCAL_FCINFO(call, 2);
        InitFunctionCallInfoData(*call, flinfo, nargs, collation, nullptr, nullptr);
        for (int i = 0; i < nargs; ++i) {
            call->args[i].value = args[i];
            call->args[i].isnull = nulls[i];
        }
        PgStat_FunctionCallUsage usage;
        pgstat_init_function_usage(call, &usage);
        if (body)
            sql_body_execute(body, nargs, args, nulls);
        else
            (void)FunctionCallInvoke(call);
        pgstat_end_function_usage(&usage, true);

        error_context_stack = callback.previous;
    });
}

}  // namespace

void call_projector(const Projector& projector, const OffsetKey& key, Datum payload, bool payload_isnull) {
    const std::string handler = excerpt(*key.handler_name.view);
    const std::string what = "event \"" + excerpt(*key.event_id.view) + "\"";
    if (projector.form == CallForm::EventAndPayload) {
        const Datum args[2] = {key.event_id.datum, payload};
        const bool nulls[2] = {false, payload_isnull};
        invoke(projector, {handler.c_str(), what.c_str()}, 2, args, nulls, DEFAULT_COLLATION_OID);
    } else {
        invoke(projector, {handler.c_str(), what.c_str()}, 1, &payload, &payload_isnull, InvalidOid);
    }
}

void call_projector_delivery(const Projector& projector, Datum event_id, std::string_view event_id_view,
                             Datum payload, bool payload_isnull) {
    const std::string what = "projection_offset harness delivering event \"" + excerpt(event_id_view) + "\"";
    const Datum args[2] = {event_id, payload};
    const bool nulls[2] = {false, payload_isnull};
    invoke(projector, {nullptr, what.c_str()}, 2, args, nulls, DEFAULT_COLLATION_OID);
}

void call_set_projector(const Projector& projector, std::string_view handler_name, Datum event_ids,
                        Datum payloads, size_t count) {
    const std::string handler = excerpt(handler_name);
    const std::string what = "a batch of " + std::to_string(count) + " events";
    const Datum args[2] = {event_ids, payloads};
    const bool nulls[2] = {false, false};
    invoke(projector, {handler.c_str(), what.c_str()}, 2, args, nulls, DEFAULT_COLLATION_OID);
}

}  // namespace po::pg
