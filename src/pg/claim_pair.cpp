#include "claim_pair.hpp"

#include <string>

#include "../core/outcome.hpp"
#include "projection_offset_counters.hpp"

namespace po::pg {

namespace {

// A pair released concurrently between the INSERT and the read of its hash
// is claimed again; a few rounds settle any realistic race, and past them
// the caller is told to retry rather than told "already applied".
constexpr int kClaimAttempts = 3;

struct StoredHash {
    bool found = false;
    std::optional<std::string> value;  // NULL when the pair has no hash

    SqlText hash() const { return value ? SqlText{*value} : SqlText{}; }
};

StoredHash read_stored_hash(SpiConnection& spi, const OffsetKey& key) {
    Datum values[2] = {key.event_id.datum, key.handler_name.datum};
    if (spi.execute(Statement::StoredHash, values, nullptr, 1) == 0) return StoredHash{};
    return StoredHash{true, spi.text_at(0, 1)};
}

enum class Insert { Recorded, Existing, BelowCheckpoint };

struct Attempt {
    Insert insert;
    StoredHash stored;  // found when the statement could read it
};

Attempt try_insert(SpiConnection& spi, const ClaimRequest& request) {
    const OffsetKey& key = request.key;
    const bool hashed = request.payload_hash.view.has_value();
    const char hash_null = hashed ? ' ' : 'n';
    if (request.position) {
        Datum values[4] = {key.event_id.datum, key.handler_name.datum, request.payload_hash.datum,
                           Int64GetDatum(*request.position)};
        const char nulls[4] = {' ', ' ', hash_null, ' '};
        spi.execute(Statement::ClaimOneAt, values, nulls, 1);
        if (spi.first_bool(1)) return Attempt{Insert::Recorded, {}};
        return Attempt{spi.first_bool(2) ? Insert::BelowCheckpoint : Insert::Existing, {}};
    }
    Datum values[3] = {key.event_id.datum, key.handler_name.datum, request.payload_hash.datum};
    const char nulls[3] = {' ', ' ', hash_null};
    if (!hashed) {
        const bool recorded = spi.execute(Statement::ClaimOne, values, nulls) == 1;
        return Attempt{recorded ? Insert::Recorded : Insert::Existing, {}};
    }
    if (spi.execute(Statement::ClaimOneHashed, values, nulls) == 0) return Attempt{Insert::Existing, {}};
    if (spi.first_bool(1)) return Attempt{Insert::Recorded, {}};
    return Attempt{Insert::Existing, StoredHash{true, spi.text_at(0, 2)}};
}

bool classify(SpiConnection& spi, const ClaimRequest& request) {
    const OffsetKey& key = request.key;
    for (int attempt = 0; attempt < kClaimAttempts; ++attempt) {
        Attempt result = try_insert(spi, request);
        if (result.insert == Insert::Recorded) return true;
        // Without a given hash there is nothing to compare: a re-delivery.
        if (!request.payload_hash.view) return false;
        // A row committed after the statement's snapshot is read with a new
        // one. Below the checkpoint the row may be pruned already; while it
        // is there, its hash is compared as the batch form compares it.
        const bool below = result.insert == Insert::BelowCheckpoint;
        StoredHash stored = result.stored.found ? std::move(result.stored) : read_stored_hash(spi, key);
        if (!stored.found) {
            if (below) return false;
            continue;
        }
        if (classify_existing(stored.hash(), request.payload_hash.view) == ClaimOutcome::Divergent) {
            counters::add(*key.handler_name.view, {0, 0, 1});
            raise(divergence_problem(*key.event_id.view, *key.handler_name.view, *stored.value,
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

TextArg payload_hash_arg(FunctionCallInfo fcinfo, int n) {
    TextArg hash = text_arg(fcinfo, n);
    if (hash.view && hash.view->empty()) {
        raise(Problem{sqlstate::invalid_parameter_value, "payload_hash must not be empty", "",
                      "Pass NULL when the payload has no hash."});
    }
    return hash;
}

Datum claim_pair_datum(FunctionCallInfo fcinfo, const ClaimRequest& request) {
    SpiConnection spi(extension_namespace(fcinfo));
    bool recorded = claim_pair(spi, request);
    spi.finish();
    return BoolGetDatum(recorded);
}

}  // namespace po::pg
