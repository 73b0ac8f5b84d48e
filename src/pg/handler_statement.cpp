#include "handler_statement.hpp"

#include "../core/outcome.hpp"

namespace po::pg {

TextArg handler_arg(FunctionCallInfo fcinfo, int n) {
    TextArg handler = text_arg(fcinfo, n);
    check(check_handler_name(handler.view));
    return handler;
}

int64_t run_count(FunctionCallInfo fcinfo, Statement statement, const Datum* values, const SqlText& handler) {
    SpiConnection spi(extension_namespace(fcinfo));
    const SpiResult result = spi.execute(statement, values, nullptr, 0);
    // The counting statements always return one row; the checkpoint's
    // INSERT ... ON CONFLICT DO UPDATE returns none when a BEFORE trigger
    // skipped the row.
    if (result.rows() == 0 && statement == Statement::Checkpoint) {
        raise(write_skipped_problem("checkpoint of handler \"" + excerpt(handler.value_or("")) + "\"",
                                    "projection_offset_checkpoint"));
    }
    const int64_t count = result.int64_at(0, 1).value_or(0);
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
    const TextArg handler = handler_arg(fcinfo, 0);
    Datum values[2] = {handler.datum, 0};
    if (second_arg) values[1] = required_arg(fcinfo, 1, second_arg);
    return run_count(fcinfo, statement, values, handler.view);
}

Datum local_timestamp(TimestampTz t) {
    return pg_call(
        [&]() noexcept { return DirectFunctionCall1(timestamptz_timestamp, TimestampTzGetDatum(t)); });
}

}  // namespace po::pg
