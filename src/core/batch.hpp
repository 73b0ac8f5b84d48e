// The batch form of apply_with_offset, minus the database: checking each
// entry of the events array, and gathering what the claim reported.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "problem.hpp"
#include "validate.hpp"

namespace po {

// What a JSON value was, as far as the checks care.
enum class JsonKind { Missing, Null, String, Number, Other };

// One element of the events array, as read from the jsonb.
struct EventEntry {
    bool is_object = false;
    JsonKind id_kind = JsonKind::Missing;
    std::string_view id;  // valid when id_kind == String
    JsonKind position_kind = JsonKind::Missing;
};

// "element 3 of events": position is 1-based, as for SQL arrays.
std::string element(std::size_t position);

// position is 1-based, as for SQL arrays.
std::optional<Problem> check_event_entry(std::size_t position, const EventEntry& entry);

// PJ001 for the event at `position`, whose hash differs from the stored one.
Problem batch_divergence_problem(std::size_t position, std::string_view event_id,
                                 std::string_view handler_name, std::string_view stored_hash,
                                 std::string_view given_hash);

// What the database reported about a batch, gathered row by row while the
// claim and check statements run. Ordinals are 1-based positions in the
// events array. The row methods are called from inside the executor: they
// neither allocate nor throw, and an ordinal out of range only marks the
// outcome inconsistent.
class BatchOutcome {
public:
    // May throw std::bad_alloc.
    explicit BatchOutcome(std::size_t events);

    // Before the statements: the event carries a position.
    void has_position(std::uint64_t ordinal) noexcept { set(ordinal, kPositioned); }

    // Claim statement rows.
    void recorded(std::uint64_t ordinal) noexcept;  // a first occurrence recorded now
    void below_checkpoint(std::uint64_t ordinal) noexcept;
    void distinct(std::uint64_t ids) noexcept;  // once per claim
    void positions(std::uint64_t recorded) noexcept { positions_recorded_ = recorded; }

    // Check statement rows.
    void missing(std::uint64_t ordinal) noexcept { set(ordinal, kMissing); }  // a first occurrence not stored
    // Returns true when this is the earliest divergence so far: the caller
    // keeps its hashes for the message.
    bool divergent(std::uint64_t ordinal) noexcept;

    std::size_t events() const { return flags_.size(); }
    bool consistent() const { return !inconsistent_ && summaries_ == 1; }
    std::uint64_t distinct_ids() const { return distinct_ids_; }
    std::size_t recorded_count() const { return recorded_; }
    bool is_recorded(std::size_t ordinal) const { return (flags_[ordinal - 1] & kRecorded) != 0; }
    // Recorded events that carry a position, and positions the claim recorded.
    std::size_t positions_expected() const;
    std::uint64_t positions_recorded() const { return positions_recorded_; }
    // Every event was a first occurrence recorded now: nothing to check.
    bool all_recorded() const { return recorded_ == flags_.size(); }
    std::optional<std::size_t> first_divergent() const { return first_divergent_; }
    // The first event whose id is neither recorded nor stored, leaving out
    // those at or below the checkpoint (which are not stored on purpose).
    std::optional<std::size_t> first_missing() const;

private:
    static constexpr std::uint8_t kRecorded = 1, kBelow = 2, kMissing = 4, kPositioned = 8;
    void set(std::uint64_t ordinal, std::uint8_t flag) noexcept;

    std::vector<std::uint8_t> flags_;
    std::size_t recorded_ = 0;
    std::uint64_t distinct_ids_ = 0;
    std::uint64_t positions_recorded_ = 0;
    int summaries_ = 0;
    bool inconsistent_ = false;
    std::optional<std::size_t> first_divergent_;
};

}  // namespace po
