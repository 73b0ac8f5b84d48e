#include "guard.hpp"

namespace po::pg {

namespace {

int sqlstate_code(const std::string& s) { return MAKE_SQLSTATE(s[0], s[1], s[2], s[3], s[4]); }

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

namespace {

// Copies the error being handled into the current context and clears the
// error state. The copy allocates, and an error raised while copying (out
// of memory) must not leave this frame by longjmp: it would cross the C++
// frames of pg_call. It is caught here and reported as a failed copy.
Caught copy_current_error() noexcept {
    ErrorData* volatile edata = nullptr;
    MemoryContext cxt = CurrentMemoryContext;
    PG_TRY();
    { edata = CopyErrorData(); }
    PG_CATCH();
    {
        MemoryContextSwitchTo(cxt);
        edata = nullptr;
    }
    PG_END_TRY();
    // Drops the original error and, if copying failed, that failure too.
    FlushErrorState();
    return Caught{edata, edata == nullptr};
}

}  // namespace

Caught try_backend(void (*body)(void*), void* arg) noexcept {
    // The copy must outlive the C++ unwinding that follows; the context
    // current here belongs to a caller frame that PostgreSQL, not C++,
    // cleans up (at the latest when the rethrown error aborts the transaction).
    MemoryContext copy_cxt = CurrentMemoryContext;
    volatile Caught caught{};
    PG_TRY();
    { body(arg); }
    PG_CATCH();
    {
        MemoryContextSwitchTo(copy_cxt);
        Caught copied = copy_current_error();
        caught.edata = copied.edata;
        caught.copy_failed = copied.copy_failed;
    }
    PG_END_TRY();
    return Caught{caught.edata, caught.copy_failed};
}

void throw_caught(const Caught& caught) {
    if (caught.edata) throw PgError(caught.edata);
    throw std::bad_alloc();
}

void rethrow(const Escape& escape) {
    if (escape.edata) ReThrowError(escape.edata);
    // The message of a C++ exception was cut to fit Escape::message, maybe
    // inside a multibyte character: cut on a character boundary instead.
    const int length = static_cast<int>(strlen(escape.message));
    const int clipped = pg_mbcliplen(escape.message, length, length);
    ereport(ERROR, (errcode(escape.sqlstate), errmsg("%.*s", clipped, escape.message)));
    pg_unreachable();
}

}  // namespace detail

}  // namespace po::pg
