#include "claim.hpp"

#include <string>

#include "../core/outcome.hpp"
#include "counters.hpp"

namespace po::pg {

namespace {

// A pair released concurrently between the INSERT and the read of its hash
// is claimed again; a few rounds settle any realistic race, and past them
// the caller is told to retry rather than told "already applied".
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
    text* t = pg_call([&]() noexcept {
        bool isnull = true;
        Datum d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
        return isnull ? static_cast<text*>(nullptr) : DatumGetTextPP(d);
    });
    if (t) {
        out.copy.assign(text_view(t));
        out.hash = out.copy;
    }
    return out;
}

enum class Insert { Recorded, Existing, BelowCheckpoint };

Insert try_insert(SpiConnection& spi, const ClaimRequest& request) {
    const OffsetKey& key = request.key;
    if (!request.position) {
        Datum values[3] = {key.event_id.datum, key.handler_name.datum, request.payload_hash.datum};
        const char nulls[3] = {' ', ' ', request.payload_hash.view ? ' ' : 'n'};
        return spi.execute(Statement::ClaimOne, values, nulls) == 1 ? Insert::Recorded
                                                                     : Insert::Existing;
    }
    Datum values[4] = {key.event_id.datum, key.handler_name.datum, request.payload_hash.datum,
                       Int64GetDatum(*request.position)};
    const char nulls[4] = {' ', ' ', request.payload_hash.view ? ' ' : 'n', ' '};
    spi.execute(Statement::ClaimOneAt, values, nulls, 1);
    if (spi.first_bool(1)) return Insert::Recorded;
    return spi.first_bool(2) ? Insert::BelowCheckpoint : Insert::Existing;
}

bool classify(SpiConnection& spi, const ClaimRequest& request) {
    const OffsetKey& key = request.key;
    for (int attempt = 0; attempt < kClaimAttempts; ++attempt) {
        switch (try_insert(spi, request)) {
            case Insert::Recorded: return true;
            case Insert::BelowCheckpoint: return false;
            case Insert::Existing: break;
        }
        // Without a given hash there is nothing to compare: a re-delivery.
        if (!request.payload_hash.view) return false;
        StoredHash stored = read_stored_hash(spi, key);
        if (!stored.found) continue;
        if (classify_existing(stored.hash, request.payload_hash.view) == ClaimOutcome::Divergent) {
            counters::add(*key.handler_name.view, {0, 0, 1});
            raise(divergence_problem(*key.event_id.view, *key.handler_name.view, *stored.hash,
                                     *request.payload_hash.view));
        }
        return false;
    }
    raise(Problem{"40001",
                  "offset of event \"" + excerpt(*key.event_id.view) + "\" for handler \"" +
                      excerpt(*key.handler_name.view) + "\" kept being released while it was claimed",
                  "", "Retry the transaction."});
}

}  // namespace

bool claim_pair(SpiConnection& spi, const ClaimRequest& request) {
    const bool recorded = classify(spi, request);
    counters::add(*request.key.handler_name.view, recorded ? counters::Delta{1, 0, 0}
                                                           : counters::Delta{0, 1, 0});
    return recorded;
}

}  // namespace po::pg
