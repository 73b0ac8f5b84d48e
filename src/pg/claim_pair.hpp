// Recording one (event, handler) pair inside an open SPI connection.
#pragma once

#include <cstdint>
#include <optional>

#include "args.hpp"
#include "spi.hpp"

namespace po::pg {

struct ClaimRequest {
    OffsetKey key;
    TextArg payload_hash;
    std::optional<int64_t> position;  // checked against the handler's checkpoint
};

// Returns true when this call recorded the pair, false for a re-delivery
// (the pair is stored) or a position at or below the checkpoint. Raises
// PJ001 when both the stored and the given hash exist and differ, and 55000
// when a trigger on the offset table skipped the insert. nsp is the
// extension's schema.
bool claim_pair(SpiConnection& spi, Oid nsp, const ClaimRequest& request);

// The payload_hash argument n of offset_claim and offset_claim_at: NULL or
// a non-empty text.
TextArg payload_hash_arg(FunctionCallInfo fcinfo, int n);

// Claims one pair in a connection of its own and returns the SQL boolean.
Datum claim_pair_datum(FunctionCallInfo fcinfo, const ClaimRequest& request);

}  // namespace po::pg
