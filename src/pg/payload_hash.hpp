// The payloadHash apply_with_offset records: SHA-256, in hex, of the
// payload's canonical jsonb text in UTF-8, whatever the database encoding.
// The same value in SQL:
//   encode(sha256(convert_to(payload::text, 'UTF8')), 'hex')
#pragma once

#include "guard.hpp"

namespace po::pg {

// Returns a text Datum palloc'd in the current memory context.
Datum payload_hash(Datum jsonb_payload);

}  // namespace po::pg
