// Reading SQL arguments into views the pure core can check.
#pragma once

#include <string_view>

#include "guard.hpp"
#include "../core/validate.hpp"

namespace po::pg {

// A text argument: its Datum for SPI and a view of its bytes for the core.
struct TextArg {
    Datum datum = 0;
    SqlText view;  // empty when the argument is NULL
};

inline std::string_view text_view(const text* t) {
    return std::string_view(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

inline TextArg text_arg(FunctionCallInfo fcinfo, int n) {
    if (PG_ARGISNULL(n)) return TextArg{};
    text* t = pg_call([&]() noexcept { return PG_GETARG_TEXT_PP(n); });
    return TextArg{PointerGetDatum(t), text_view(t)};
}

inline void check(const std::optional<Problem>& problem, const char* file = __builtin_FILE(),
                  int line = __builtin_LINE(), const char* function = __builtin_FUNCTION()) {
    if (problem) raise(*problem, file, line, function);
}

// The (event_id, handler_name) key, validated.
struct OffsetKey {
    TextArg event_id;
    TextArg handler_name;
};

inline OffsetKey key_args(FunctionCallInfo fcinfo, int event_arg, int handler_arg,
                          const char* file = __builtin_FILE(), int line = __builtin_LINE(),
                          const char* function = __builtin_FUNCTION()) {
    OffsetKey key{text_arg(fcinfo, event_arg), text_arg(fcinfo, handler_arg)};
    check(check_event_id("event_id", key.event_id.view), file, line, function);
    check(check_handler_name(key.handler_name.view), file, line, function);
    return key;
}

}  // namespace po::pg
