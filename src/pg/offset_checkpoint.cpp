// SQL entry point offset_checkpoint(handler_name text, position bigint) RETURNS bigint.
#include "handler_statement.hpp"

namespace po::pg {

namespace {

Datum offset_checkpoint(FunctionCallInfo fcinfo) {
    // "updatedAt" gets the transaction's start time, as CURRENT_TIMESTAMP
    // in the column default would give it.
    const TextArg handler = handler_arg(fcinfo, 0);
    Datum values[3] = {handler.datum, required_arg(fcinfo, 1, "position"),
                       local_timestamp(GetCurrentTransactionStartTimestamp())};
    return int64_datum(run_count(fcinfo, Statement::Checkpoint, values, handler.view));
}

}  // namespace

}  // namespace po::pg

PO_SQL_FUNCTION(po_offset_checkpoint, po::pg::offset_checkpoint)
