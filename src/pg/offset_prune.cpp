// SQL entry points offset_prune(handler_name text, older_than timestamptz)
// and offset_prune(handler_name text) RETURNS bigint.
#include "handler_statement.hpp"

namespace po::pg {

namespace {

Datum offset_prune(FunctionCallInfo fcinfo) {
    return int64_datum(run_for_handler(fcinfo, Statement::Prune, "older_than"));
}

Datum offset_prune_to_checkpoint(FunctionCallInfo fcinfo) {
    return int64_datum(run_for_handler(fcinfo, Statement::PruneToCheckpoint));
}

}  // namespace

}  // namespace po::pg

PO_SQL_FUNCTION(po_offset_prune, po::pg::offset_prune)
PO_SQL_FUNCTION(po_offset_prune_to_checkpoint, po::pg::offset_prune_to_checkpoint)
