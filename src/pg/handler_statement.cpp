#include "handler_statement.hpp"

namespace po::pg {

TextArg handler_arg(FunctionCallInfo fcinfo, int n) {
    TextArg handler = text_arg(fcinfo, n);
    check(check_handler_name(handler.view));
    return handler;
}

int64_t run_count(FunctionCallInfo fcinfo, Statement statement, const Datum* values) {
    SpiConnection spi(extension_namespace(fcinfo));
    spi.execute(statement, values, nullptr, 0);
    int64_t count = spi.first_int64();
    spi.finish();
    return count;
}

Datum required_arg(FunctionCallInfo fcinfo, int n, const char* name) {
    if (PG_ARGISNULL(n)) {
        raise(Problem{sqlstate::null_value_not_allowed, std::string(name) + " must not be null", "", ""});
    }
    return PG_GETARG_DATUM(n);
}

int64_t run_for_handler(FunctionCallInfo fcinfo, Statement statement, const char* second_arg) {
    Datum values[2] = {handler_arg(fcinfo, 0).datum, 0};
    if (second_arg) values[1] = required_arg(fcinfo, 1, second_arg);
    return run_count(fcinfo, statement, values);
}

Datum local_timestamp(TimestampTz t) {
    return pg_call([&]() noexcept { return DirectFunctionCall1(timestamptz_timestamp, TimestampTzGetDatum(t)); });
}

}  // namespace po::pg
