// SQL entry points offset_prune(handler_name text, older_than timestamptz)
// and offset_prune(handler_name text) RETURNS bigint.
#include "handler_statement.hpp"

namespace po::pg {

namespace {

Datum offset_prune(FunctionCallInfo fcinfo) {
    // "appliedAt" is a local timestamp: the cut-off is converted to one
    // under the session's TimeZone, as the column's values were stored.
    Datum values[2] = {handler_arg(fcinfo, 0).datum,
                       local_timestamp(DatumGetTimestampTz(required_arg(fcinfo, 1, "older_than")))};
    return int64_datum(run_count(fcinfo, Statement::Prune, values));
}

Datum offset_prune_to_checkpoint(FunctionCallInfo fcinfo) {
    return int64_datum(run_for_handler(fcinfo, Statement::PruneToCheckpoint));
}

}  // namespace

}  // namespace po::pg

PO_SQL_FUNCTION(po_offset_prune, po::pg::offset_prune)
PO_SQL_FUNCTION(po_offset_prune_to_checkpoint, po::pg::offset_prune_to_checkpoint)
