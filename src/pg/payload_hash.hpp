// The payloadHash apply_with_offset records: SHA-256, in hex, of the
// payload's canonical jsonb text in UTF-8, whatever the database encoding.
// The same value in SQL:
//   encode(sha256(convert_to(payload::text, 'UTF8')), 'hex')
#pragma once

#include "guard.hpp"

namespace po::pg {

// Returns a text Datum palloc'd in the current memory context.
Datum payload_hash(Datum jsonb_payload);

// The same hash, in hex, of a jsonb value read out of a larger document
// (a container or a scalar), without copying it into a Jsonb of its own.
inline constexpr size_t kPayloadHashLength = 64;
void payload_hash_hex(const JsonbValue& payload, char (&hex)[kPayloadHashLength]);

}  // namespace po::pg
