// SQL entry point offset_release(event_id text, handler_name text) RETURNS boolean.
#include "handler_statement.hpp"

namespace po::pg {

namespace {

Datum offset_release(FunctionCallInfo fcinfo) {
    OffsetKey key = key_args(fcinfo, 0, 1);
    Datum values[2] = {key.event_id.datum, key.handler_name.datum};
    return BoolGetDatum(run_count(fcinfo, Statement::Release, values) > 0);
}

}  // namespace

}  // namespace po::pg

PO_SQL_FUNCTION(po_offset_release, po::pg::offset_release)
