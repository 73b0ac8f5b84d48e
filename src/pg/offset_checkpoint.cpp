// SQL entry point offset_checkpoint(handler_name text, position bigint) RETURNS bigint.
#include "handler_statement.hpp"

namespace po::pg {

namespace {

Datum offset_checkpoint(FunctionCallInfo fcinfo) {
    return int64_datum(run_for_handler(fcinfo, Statement::Checkpoint, "position"));
}

}  // namespace

}  // namespace po::pg

PO_SQL_FUNCTION(po_offset_checkpoint, po::pg::offset_checkpoint)
