// What a claim means once the database has answered: recorded now, a
// re-delivery, or an event id reused for another payload.
#pragma once

#include <string>
#include <string_view>

#include "problem.hpp"
#include "validate.hpp"

namespace po {

enum class ClaimOutcome { Recorded, Duplicate, Divergent };

// Hashes are shown whole up to this size (a SHA-256 hex is 64 bytes);
// payload_hash is free text, and an error message must stay readable.
inline constexpr std::size_t kMaxHashInMessage = 128;

// Classifies a claim whose INSERT found the pair already recorded.
// A hash can only diverge when both sides carry one.
ClaimOutcome classify_existing(const SqlText& stored_hash, const SqlText& given_hash);

// A write of the extension that left no row behind: a BEFORE trigger on
// the table returned NULL. `what` names the row ("offset of event ... for
// handler ..."), already shortened.
Problem write_skipped_problem(std::string_view what, std::string_view table);

// The words naming one offset in a message: event and handler, shortened.
std::string offset_words(std::string_view event_id, std::string_view handler_name);

Problem divergence_problem(std::string_view event_id, std::string_view handler_name,
                           std::string_view stored_hash, std::string_view given_hash);

}  // namespace po
