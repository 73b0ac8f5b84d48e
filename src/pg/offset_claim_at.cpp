// SQL entry point offset_claim_at(event_id text, handler_name text,
// event_position bigint, payload_hash text DEFAULT NULL) RETURNS boolean.
#include "claim_pair.hpp"

namespace po::pg {

namespace {

Datum offset_claim_at(FunctionCallInfo fcinfo) {
    OffsetKey key = key_args(fcinfo, 0, 1);
    if (PG_ARGISNULL(2)) {
        raise(Problem{sqlstate::null_value_not_allowed, "event_position must not be null", "",
                      "Use offset_claim(event_id, handler_name) for events without a position."});
    }
    return claim_pair_datum(fcinfo, ClaimRequest{key, payload_hash_arg(fcinfo, 3), PG_GETARG_INT64(2)});
}

}  // namespace

}  // namespace po::pg

PO_SQL_FUNCTION(po_offset_claim_at, po::pg::offset_claim_at)
