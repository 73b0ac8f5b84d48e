// SQL entry point offset_reset(handler_name text) RETURNS bigint.
#include "handler_statement.hpp"

namespace po::pg {

namespace {

Datum offset_reset(FunctionCallInfo fcinfo) { return int64_datum(run_for_handler(fcinfo, Statement::Reset)); }

}  // namespace

}  // namespace po::pg

PO_SQL_FUNCTION(po_offset_reset, po::pg::offset_reset)
