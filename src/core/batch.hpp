// The batch form of apply_with_offset, minus the database: checking each
// entry of the events array, and deciding which events to apply once the
// claims are made.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <variant>
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

// position is 1-based, as for SQL arrays.
std::optional<Problem> check_event_entry(std::size_t position, const EventEntry& entry);

struct BatchEvent {
    std::string_view id;
    SqlText hash;  // payload hash, absent when the event has no payload
};

// Given the events in array order, the hashes now stored for their ids, and
// the ids this call recorded, returns the positions (0-based) to apply in
// order: the first occurrence of every id recorded now. Any event whose
// hash differs from the stored one is a divergence, reported by position;
// repeats inside the batch are compared the same way.
std::variant<std::vector<std::size_t>, Problem> plan_batch(
    const std::vector<BatchEvent>& events,
    const std::unordered_map<std::string_view, SqlText>& stored_hashes,
    const std::unordered_set<std::string_view>& recorded_now, std::string_view handler_name);

}  // namespace po
