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
    const SpiResult stored = spi.execute(Statement::StoredHash, values, nullptr, 1);
    if (stored.rows() == 0) return StoredHash{};
    return StoredHash{true, stored.text_at(0, 1)};
}

enum class Insert { Recorded, Existing, BelowCheckpoint };

struct Attempt {
    Insert insert;
    StoredHash stored;  // found when the statement could read it
};

// A position the claim inserted nothing for must be there already (a
// leftover of the pair); otherwise a trigger skipped it.
void check_position_kept(SpiConnection& spi, const OffsetKey& key) {
    Datum values[2] = {key.event_id.datum, key.handler_name.datum};
    if (spi.execute(Statement::StoredPosition, values, nullptr, 1).rows() == 0) {
        raise(write_skipped_problem("position of event \"" + excerpt(*key.event_id.view) +
                                        "\" for handler \"" + excerpt(*key.handler_name.view) + "\"",
                                    "projection_offset_position"));
    }
}

Attempt try_insert(SpiConnection& spi, const ClaimRequest& request) {
    const OffsetKey& key = request.key;
    const char hash_null = request.payload_hash.view ? ' ' : 'n';
    if (request.position) {
        Datum values[4] = {key.event_id.datum, key.handler_name.datum, request.payload_hash.datum,
                           int64_datum(*request.position)};
        const char nulls[4] = {' ', ' ', hash_null, ' '};
        const SpiResult claim = spi.execute(Statement::ClaimOneAt, values, nulls, 1);
        if (claim.bool_at(0, 1).value_or(false)) {
            if (!claim.bool_at(0, 3).value_or(false)) check_position_kept(spi, key);
            return Attempt{Insert::Recorded, {}};
        }
        const Insert insert = claim.bool_at(0, 2).value_or(false) ? Insert::BelowCheckpoint : Insert::Existing;
        if (!claim.bool_at(0, 4).value_or(false)) return Attempt{insert, {}};
        return Attempt{insert, StoredHash{true, claim.text_at(0, 5)}};
    }
    Datum values[3] = {key.event_id.datum, key.handler_name.datum, request.payload_hash.datum};
    const char nulls[3] = {' ', ' ', hash_null};
    const SpiResult claim = spi.execute(Statement::ClaimOne, values, nulls);
    if (claim.rows() == 0) return Attempt{Insert::Existing, {}};
    if (claim.bool_at(0, 1).value_or(false)) return Attempt{Insert::Recorded, {}};
    return Attempt{Insert::Existing, StoredHash{true, claim.text_at(0, 2)}};
}

bool classify(SpiConnection& spi, Oid nsp, const ClaimRequest& request) {
    const OffsetKey& key = request.key;
    const bool hashed = request.payload_hash.view.has_value();
    for (int attempt = 0; attempt < kClaimAttempts; ++attempt) {
        Attempt result = try_insert(spi, request);
        if (result.insert == Insert::Recorded) return true;
        // Below the checkpoint the row may be pruned already: without a
        // given hash there is nothing to compare.
        const bool below = result.insert == Insert::BelowCheckpoint;
        if (below && !hashed) return false;
        // A re-delivery must find the recorded row: the INSERT recorded
        // nothing. A row committed after the statement's snapshot is read
        // with a new one.
        StoredHash stored = result.stored.found ? std::move(result.stored) : read_stored_hash(spi, key);
        if (!stored.found) {
            if (below) return false;
            continue;  // released meanwhile, or the INSERT was skipped: claim again
        }
        // While the row is there, its hash is compared as the batch form
        // compares it, below the checkpoint too.
        if (classify_existing(stored.hash(), request.payload_hash.view) == ClaimOutcome::Divergent) {
            counters::add(*key.handler_name.view, {0, 0, 1});
            raise(divergence_problem(*key.event_id.view, *key.handler_name.view, *stored.value,
                                     *request.payload_hash.view));
        }
        return false;
    }
    // Neither recorded nor found, attempt after attempt. Reporting a
    // re-delivery would skip an event that was never applied.
    const std::string what = offset_words(*key.event_id.view, *key.handler_name.view);
    if (has_before_insert_trigger(nsp, "projection_offset")) {
        raise(write_skipped_problem(what, "projection_offset"));
    }
    raise(Problem{sqlstate::serialization_failure, what + " kept being released while it was claimed", "",
                  "Retry the transaction."});
}

}  // namespace

bool claim_pair(SpiConnection& spi, Oid nsp, const ClaimRequest& request) {
    const bool recorded = classify(spi, nsp, request);
    counters::add(*request.key.handler_name.view,
                  recorded ? counters::Delta{1, 0, 0} : counters::Delta{0, 1, 0});
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
    const Oid nsp = extension_namespace(fcinfo);
    SpiConnection spi(nsp);
    bool recorded = claim_pair(spi, nsp, request);
    spi.finish();
    return BoolGetDatum(recorded);
}

}  // namespace po::pg
