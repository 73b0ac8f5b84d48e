// Recording one (event, handler) pair inside an open SPI connection.
#pragma once

#include "args.hpp"
#include "spi.hpp"

namespace po::pg {

// Returns true when this call recorded the pair, false for a re-delivery.
// Raises PJ001 when both the stored and the given hash exist and differ.
bool claim_pair(SpiConnection& spi, const OffsetKey& key, const TextArg& payload_hash);

}  // namespace po::pg
