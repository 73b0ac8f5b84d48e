// SQL entry point offset_claim(event_id text, handler_name text,
// payload_hash text DEFAULT NULL) RETURNS boolean.
#include "claim_pair.hpp"

namespace po::pg {

namespace {

Datum offset_claim(FunctionCallInfo fcinfo) {
    OffsetKey key = key_args(fcinfo, 0, 1);
    return claim_pair_datum(fcinfo, ClaimRequest{key, payload_hash_arg(fcinfo, 2), std::nullopt});
}

}  // namespace

}  // namespace po::pg

PO_SQL_FUNCTION(po_offset_claim, po::pg::offset_claim)
