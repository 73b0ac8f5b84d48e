#include "guard.hpp"

namespace po::pg {

namespace {

int sqlstate_code(const std::string& s) {
    return MAKE_SQLSTATE(s[0], s[1], s[2], s[3], s[4]);
}

}  // namespace

void raise(const Problem& problem, const char* file, int line, const char* function) {
    const int code = sqlstate_code(problem.sqlstate);
    const char* message = problem.message.c_str();
    const char* detail = problem.detail.empty() ? nullptr : problem.detail.c_str();
    const char* hint = problem.hint.empty() ? nullptr : problem.hint.c_str();
    // ereport spelled out, so that the location is the caller's.
    pg_call([&]() noexcept {
        if (errstart(ERROR, TEXTDOMAIN)) {
            errcode(code);
            errmsg_internal("%s", message);
            if (detail) errdetail_internal("%s", detail);
            if (hint) errhint("%s", hint);
            errfinish(file, line, function);
        }
        pg_unreachable();
    });
    // pg_call threw; this line only satisfies [[noreturn]].
    std::terminate();
}

namespace detail {

ErrorData* try_backend(void (*body)(void*), void* arg) noexcept {
    // The copy must outlive the C++ unwinding that follows; the context
    // current here belongs to a caller frame that PostgreSQL, not C++,
    // cleans up (at the latest when the rethrown error aborts the transaction).
    MemoryContext copy_cxt = CurrentMemoryContext;
    ErrorData* volatile edata = nullptr;
    PG_TRY();
    {
        body(arg);
    }
    PG_CATCH();
    {
        MemoryContextSwitchTo(copy_cxt);
        edata = CopyErrorData();
        FlushErrorState();
    }
    PG_END_TRY();
    return edata;
}

void rethrow(const Escape& escape) {
    if (escape.edata) ReThrowError(escape.edata);
    ereport(ERROR, (errcode(escape.sqlstate), errmsg("%s", escape.message)));
    pg_unreachable();
}

}  // namespace detail

}  // namespace po::pg
