// The single crossing point between C++ and PostgreSQL error handling.
//
// pg_call() runs backend code inside PG_TRY. A PostgreSQL error raised there
// is copied (ErrorData: SQLSTATE, message, detail, hint, context) and thrown
// as a C++ PgError, so the C++ frames above unwind with their destructors.
// entry_point() is the only place that hands control back to PostgreSQL: it
// catches every C++ exception and, once no C++ object is left alive in its
// frame, rethrows the original ErrorData unchanged.
#pragma once

#include "postgres_headers.hpp"

#include "../core/problem.hpp"

namespace po::pg {

class PgError : public std::exception {
public:
    explicit PgError(ErrorData* edata) : edata_(edata) {}
    ErrorData* data() const noexcept { return edata_; }
    const char* what() const noexcept override {
        return edata_ && edata_->message ? edata_->message : "PostgreSQL error";
    }

private:
    ErrorData* edata_;
};

namespace detail {

// What PG_CATCH saw: the copied ErrorData of a PostgreSQL error, or that the
// copy itself failed (out of memory while copying), or neither.
struct Caught {
    ErrorData* edata = nullptr;
    bool copy_failed = false;
};

// Runs body(arg) inside PG_TRY; the only PG_TRY in the extension besides
// the one that guards the copy of a caught error. body must not throw.
Caught try_backend(void (*body)(void*), void* arg) noexcept;

// Turns what try_backend caught into a C++ exception: PgError, or
// std::bad_alloc when the error could not be copied.
[[noreturn]] void throw_caught(const Caught& caught);

}  // namespace detail

// Runs fn, which calls backend C functions, inside PG_TRY. A PostgreSQL
// error it raises comes out as PgError. A C++ exception it throws is caught
// inside the PG_TRY frame, kept, and rethrown once that frame is left
// normally, so that no exception crosses PG_TRY. fn must still not keep a
// C++ object with a destructor alive across a call that may raise a
// PostgreSQL error: the longjmp would skip the destructor. Results must be
// trivially copyable: they are written from inside the PG_TRY frame.
template <typename Fn>
auto pg_call(Fn&& fn) -> decltype(fn()) {
    using Body = std::remove_reference_t<Fn>;
    using Result = decltype(fn());
    if constexpr (std::is_void_v<Result>) {
        struct Call {
            Body* fn;
            std::exception_ptr exception;
        } call{&fn, nullptr};
        auto thunk = [](void* p) noexcept {
            auto* c = static_cast<Call*>(p);
            try {
                (*c->fn)();
            } catch (...) {
                c->exception = std::current_exception();
            }
        };
        detail::Caught caught = detail::try_backend(thunk, &call);
        if (caught.edata || caught.copy_failed) detail::throw_caught(caught);
        if (call.exception) std::rethrow_exception(call.exception);
    } else {
        static_assert(std::is_trivially_copyable_v<Result>, "pg_call results must be trivially copyable");
        struct Call {
            Body* fn;
            std::exception_ptr exception;
            Result result;
        } call{&fn, nullptr, Result{}};
        auto thunk = [](void* p) noexcept {
            auto* c = static_cast<Call*>(p);
            try {
                c->result = (*c->fn)();
            } catch (...) {
                c->exception = std::current_exception();
            }
        };
        detail::Caught caught = detail::try_backend(thunk, &call);
        if (caught.edata || caught.copy_failed) detail::throw_caught(caught);
        if (call.exception) std::rethrow_exception(call.exception);
        return call.result;
    }
}

// Answers a pending cancel or termination request. Every loop over input
// calls it, so that a cancel takes effect within one element.
inline void check_for_interrupts() {
    if (unlikely(INTERRUPTS_PENDING_CONDITION())) pg_call([]() noexcept { CHECK_FOR_INTERRUPTS(); });
}

// Int64GetDatum allocates where int8 is passed by reference.
inline Datum int64_datum(int64 value) {
    return pg_call([value]() noexcept { return Int64GetDatum(value); });
}

// Raises a Problem as a PostgreSQL error, through pg_call, so that it
// unwinds the C++ frames like any other backend error. The error's location
// (VERBOSITY verbose, the server log) is the caller's.
[[noreturn]] void raise(const Problem& problem, const char* file = __builtin_FILE(),
                        int line = __builtin_LINE(), const char* function = __builtin_FUNCTION());

namespace detail {

// What escaped the C++ body, in plain storage that needs no destructor.
struct Escape {
    ErrorData* edata = nullptr;
    int sqlstate = 0;
    char message[256] = {0};
};

template <typename Body>
bool run_body(Body& body, Datum& out, Escape& escape) noexcept {
    try {
        out = body();
        return true;
    } catch (const PgError& e) {
        escape.edata = e.data();
    } catch (const std::bad_alloc&) {
        escape.sqlstate = ERRCODE_OUT_OF_MEMORY;
        snprintf(escape.message, sizeof escape.message, "out of memory");
    } catch (const std::exception& e) {
        escape.sqlstate = ERRCODE_INTERNAL_ERROR;
        snprintf(escape.message, sizeof escape.message, "%s", e.what());
    } catch (...) {
        escape.sqlstate = ERRCODE_INTERNAL_ERROR;
        snprintf(escape.message, sizeof escape.message, "unexpected C++ exception");
    }
    return false;
}

[[noreturn]] void rethrow(const Escape& escape);

}  // namespace detail

// Wraps the body of every SQL-callable function. Only trivially destructible
// values live in this frame, so the longjmp in rethrow() skips nothing.
template <typename Body>
Datum entry_point(Body&& body) {
    Datum out = 0;
    detail::Escape escape;
    if (detail::run_body(body, out, escape)) return out;
    detail::rethrow(escape);
}

}  // namespace po::pg

// Declares the SQL-callable C function `symbol` whose body is impl(fcinfo),
// run behind entry_point.
#define PO_SQL_FUNCTION(symbol, impl)                             \
    extern "C" {                                                  \
    PG_FUNCTION_INFO_V1(symbol);                                  \
    }                                                             \
    extern "C" Datum symbol(PG_FUNCTION_ARGS) {                   \
        return po::pg::entry_point([&] { return impl(fcinfo); }); \
    }
