#include "claim.hpp"

#include <string>

#include "../core/outcome.hpp"

namespace po::pg {

namespace {

// A pair released concurrently between the INSERT and the read of its hash
// is claimed again; a few rounds settle any realistic race.
constexpr int kClaimAttempts = 3;

struct StoredHash {
    bool found = false;
    SqlText hash;
    std::string copy;  // owns the bytes: SPI memory is per statement
};

StoredHash read_stored_hash(SpiConnection& spi, const OffsetKey& key) {
    Datum values[2] = {key.event_id.datum, key.handler_name.datum};
    StoredHash out;
    if (spi.execute(Statement::StoredHash, values, nullptr, 1) == 0) return out;
    out.found = true;
    bool isnull = true;
    text* t = pg_call([&]() noexcept {
        Datum d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
        return isnull ? static_cast<text*>(nullptr) : DatumGetTextPP(d);
    });
    if (t) {
        out.copy.assign(text_view(t));
        out.hash = out.copy;
    }
    return out;
}

}  // namespace

bool claim_pair(SpiConnection& spi, const OffsetKey& key, const TextArg& payload_hash) {
    Datum values[3] = {key.event_id.datum, key.handler_name.datum, payload_hash.datum};
    const char nulls[3] = {' ', ' ', payload_hash.view ? ' ' : 'n'};
    for (int attempt = 0; attempt < kClaimAttempts; ++attempt) {
        if (spi.execute(Statement::ClaimOne, values, nulls) == 1) return true;
        // Without a given hash there is nothing to compare: a re-delivery.
        if (!payload_hash.view) return false;
        StoredHash stored = read_stored_hash(spi, key);
        if (!stored.found) continue;
        if (classify_existing(stored.hash, payload_hash.view) == ClaimOutcome::Divergent) {
            raise(divergence_problem(*key.event_id.view, *key.handler_name.view, *stored.hash,
                                     *payload_hash.view));
        }
        return false;
    }
    return false;
}

}  // namespace po::pg
