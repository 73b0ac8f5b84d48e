#include "sql_projector.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/pg_language.h"
#include "executor/executor.h"
#include "executor/functions.h"
#include "nodes/params.h"
#include "tcop/dest.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/guc.h"
#include "utils/plancache.h"
#include "utils/snapmgr.h"
}

namespace po::pg {

bool cache_sql_projectors = true;

void define_sql_projector_setting() {
    DefineCustomBoolVariable("projection_offset.cache_sql_projectors",
                             "Keeps the plans of projectors written in LANGUAGE sql across transactions.",
                             "Off runs them through the SQL function handler, which plans the body in "
                             "every transaction before PostgreSQL 18.",
                             &cache_sql_projectors, true, PGC_USERSET, 0, nullptr, nullptr, nullptr);
}

struct SqlBody {
    bool prepared = false;  // false after a failed preparation: prepare again
    bool usable = false;    // false: every call is left to fmgr_sql
    char* fname = nullptr;
    char* src = nullptr;
    SQLFunctionParseInfoPtr pinfo = nullptr;
    int nstatements = 0;
    CachedPlanSource** statements = nullptr;
    MemoryContext cxt = nullptr;
};

namespace {

// Mirrors sql_exec_error_callback: "during startup" while the body is
// parsed and its plans fetched, "statement N" (1-based, as written) while
// statement N runs.
struct ErrorState {
    const SqlBody* body;
    int statement;  // 0: startup
};

void sql_body_error_context(void* arg) {
    auto* state = static_cast<ErrorState*>(arg);
    const SqlBody* body = state->body;
    if (!body->fname) return;
    const int position = geterrposition();
    if (position > 0 && body->src) {
        errposition(0);
        internalerrposition(position);
        internalerrquery(body->src);
    }
    if (state->statement > 0)
        errcontext("SQL function \"%s\" statement %d", body->fname, state->statement);
    else
        errcontext("SQL function \"%s\" during startup", body->fname);
}

// Pops itself when the caller restores callback.previous; an error leaves
// error_context_stack to the PG_TRY that catches it.
void push_error_context(ErrorContextCallback& callback, ErrorState& state) noexcept {
    callback.callback = sql_body_error_context;
    callback.arg = &state;
    callback.previous = error_context_stack;
    error_context_stack = &callback;
}

// Parses and analyses the body into saved plan sources. Runs inside pg_call.
void prepare_body(SqlBody* body, Oid oid, Oid collation) noexcept {
    HeapTuple tuple = SearchSysCache1(PROCOID, ObjectIdGetDatum(oid));
    if (!HeapTupleIsValid(tuple)) elog(ERROR, "cache lookup failed for function %u", oid);
    MemoryContext old = MemoryContextSwitchTo(body->cxt);
    auto* proc = reinterpret_cast<Form_pg_proc>(GETSTRUCT(tuple));
    body->fname = pstrdup(NameStr(proc->proname));
    bool isnull = false;
    Datum src = SysCacheGetAttr(PROCOID, tuple, Anum_pg_proc_prosrc, &isnull);
    if (isnull) elog(ERROR, "null prosrc for function %u", oid);
    body->src = TextDatumGetCString(src);
    body->pinfo = prepare_sql_fn_parse_info(tuple, nullptr, collation);
    ReleaseSysCache(tuple);
    MemoryContextSwitchTo(old);

    List* raw = pg_parse_query(body->src);
    body->statements = static_cast<CachedPlanSource**>(
        MemoryContextAllocZero(body->cxt, sizeof(CachedPlanSource*) * (list_length(raw) + 1)));
    ListCell* lc;
    foreach (lc, raw) {
        auto* stmt = lfirst_node(RawStmt, lc);
        CachedPlanSource* source = CreateCachedPlan(stmt, body->src, CreateCommandTag(stmt->stmt));
        List* queries = pg_analyze_and_rewrite_withcb(
            stmt, body->src, reinterpret_cast<ParserSetupHook>(sql_fn_parser_setup), body->pinfo, nullptr);
        bool plannable = true;
        ListCell* q;
        foreach (q, queries) {
            if (lfirst_node(Query, q)->commandType == CMD_UTILITY) plannable = false;
        }
        // Generic plans, as fmgr_sql plans without parameter values: custom
        // plans would fold the arguments in as constants and could raise an
        // error at planning time that fmgr_sql raises while executing.
        CompleteCachedPlan(source, queries, nullptr, nullptr, 0,
                           reinterpret_cast<ParserSetupHook>(sql_fn_parser_setup), body->pinfo,
                           CURSOR_OPT_GENERIC_PLAN | CURSOR_OPT_PARALLEL_OK, false);
        SaveCachedPlan(source);
        body->statements[body->nstatements++] = source;
        // Utility statements (and transaction control, which fmgr_sql
        // rejects) stay with fmgr_sql, which reports them its own way.
        if (!plannable) {
            body->prepared = true;
            return;
        }
    }
    body->prepared = true;
    body->usable = true;
}

void drop_statements(SqlBody* body) noexcept {
    for (int i = 0; i < body->nstatements; ++i) DropCachedPlan(body->statements[i]);
    body->nstatements = 0;
}

}  // namespace

void sql_body_execute(SqlBody* body, int nargs, const Datum* args, const bool* nulls) noexcept {
    ErrorState state{body, 0};
    ErrorContextCallback callback;
    push_error_context(callback, state);

    ParamListInfo params = nullptr;
    if (nargs > 0) {
        params = makeParamList(nargs);
        for (int i = 0; i < nargs; ++i) {
            ParamExternData* p = &params->params[i];
            p->value = args[i];
            p->isnull = nulls[i];
            p->pflags = PARAM_FLAG_CONST;
            p->ptype = body->pinfo->argtypes[i];
        }
    }

    // As fmgr_sql: every statement is planned before the first one runs.
    auto* plans = static_cast<CachedPlan**>(palloc0(sizeof(CachedPlan*) * (body->nstatements + 1)));
    for (int i = 0; i < body->nstatements; ++i)
        plans[i] = GetCachedPlan(body->statements[i], params, CurrentResourceOwner, nullptr);

    for (int i = 0; i < body->nstatements; ++i) {
        state.statement = i + 1;
        bool pushed = false;
        ListCell* lc;
        foreach (lc, plans[i]->stmt_list) {
            auto* planned = lfirst_node(PlannedStmt, lc);
            // Each query sees all work done so far; a new snapshot per
            // statement as written, a new command id per rewritten query.
            CommandCounterIncrement();
            if (!pushed) {
                PushActiveSnapshot(GetTransactionSnapshot());
                pushed = true;
            } else {
                UpdateActiveSnapshotCommandId();
            }
            QueryDesc* qd = CreateQueryDesc(planned, body->src, GetActiveSnapshot(), InvalidSnapshot,
                                            None_Receiver, params, nullptr, 0);
            ExecutorStart(qd, 0);
#if PG_VERSION_NUM >= 180000
            // PostgreSQL 18 dropped ExecutorRun's execute_once argument.
            ExecutorRun(qd, ForwardScanDirection, 0);
#else
            ExecutorRun(qd, ForwardScanDirection, 0, true);
#endif
            ExecutorFinish(qd);
            ExecutorEnd(qd);
            FreeQueryDesc(qd);
        }
        if (pushed) PopActiveSnapshot();
        ReleaseCachedPlan(plans[i], CurrentResourceOwner);
        plans[i] = nullptr;
    }
    pfree(plans);
    error_context_stack = callback.previous;
}

bool sql_body_eligible(HeapTuple proc_tuple) noexcept {
#if PG_VERSION_NUM >= 180000
    (void)proc_tuple;
    return false;
#else
    auto* proc = reinterpret_cast<Form_pg_proc>(GETSTRUCT(proc_tuple));
    if (proc->prolang != SQLlanguageId || proc->prosecdef || proc->proretset || proc->prorettype != VOIDOID ||
        proc->provolatile != PROVOLATILE_VOLATILE || proc->prokind != PROKIND_FUNCTION)
        return false;
    for (int i = 0; i < proc->pronargs; ++i) {
        if (IsPolymorphicType(proc->proargtypes.values[i])) return false;
    }
    if (!heap_attisnull(proc_tuple, Anum_pg_proc_proconfig, nullptr)) return false;
    if (!heap_attisnull(proc_tuple, Anum_pg_proc_prosqlbody, nullptr)) return false;
    if (FmgrHookIsNeeded(proc->oid)) return false;
    return true;
#endif
}

void sql_body_drop(SqlBody* body) noexcept {
    if (!body) return;
    drop_statements(body);
    MemoryContextDelete(body->cxt);
}

SqlBody* sql_body_ready(SqlBody** slot, Oid oid, Oid collation) noexcept {
    if (*slot && !(*slot)->prepared) {
        // The last preparation raised an error: the catalog may have been
        // fixed since (a table created), so parse again as fmgr_sql would.
        sql_body_drop(*slot);
        *slot = nullptr;
    }
    if (!*slot) {
        MemoryContext cxt = AllocSetContextCreate(CacheMemoryContext, "projection_offset SQL projector",
                                                  ALLOCSET_SMALL_SIZES);
        auto* body = static_cast<SqlBody*>(MemoryContextAllocZero(cxt, sizeof(SqlBody)));
        body->cxt = cxt;
        *slot = body;
        ErrorState state{body, 0};
        ErrorContextCallback callback;
        push_error_context(callback, state);
        prepare_body(body, oid, collation);
        error_context_stack = callback.previous;
    }
    return (*slot)->usable ? *slot : nullptr;
}

}  // namespace po::pg
