#include "batch.hpp"

#include <string>

#include "outcome.hpp"

namespace po {

std::string element(std::size_t position) { return "element " + std::to_string(position) + " of events"; }

Problem batch_divergence_problem(std::size_t position, std::string_view event_id,
                                 std::string_view handler_name, std::string_view stored_hash,
                                 std::string_view given_hash) {
    Problem problem = divergence_problem(event_id, handler_name, stored_hash, given_hash);
    problem.message = element(position) + ": " + problem.message;
    return problem;
}

std::optional<Problem> check_event_entry(std::size_t position, const EventEntry& entry) {
    const std::string where = element(position);
    if (!entry.is_object) {
        return Problem{sqlstate::invalid_parameter_value, where + " is not a JSON object",
                       "Each event is an object {\"event_id\": ..., \"payload\": ...}.", ""};
    }
    switch (entry.id_kind) {
        case JsonKind::Missing:
            return Problem{sqlstate::invalid_parameter_value, where + " has no \"event_id\"", "", ""};
        case JsonKind::Null:
            return Problem{sqlstate::null_value_not_allowed, where + " has a null \"event_id\"", "", ""};
        case JsonKind::String: break;
        default:
            return Problem{sqlstate::invalid_parameter_value,
                           where + " has an \"event_id\" that is not a string", "", ""};
    }
    if (entry.position_kind != JsonKind::Missing && entry.position_kind != JsonKind::Null &&
        entry.position_kind != JsonKind::Number) {
        return Problem{sqlstate::invalid_parameter_value, where + " has a \"position\" that is not a number",
                       "", ""};
    }
    auto problem = check_key_part("event_id", entry.id, kMaxEventIdBytes);
    if (problem) problem->message = where + ": " + problem->message;
    return problem;
}

BatchOutcome::BatchOutcome(std::size_t events) : flags_(events, 0) {}

void BatchOutcome::set(std::uint64_t ordinal, std::uint8_t flag) noexcept {
    if (ordinal < 1 || ordinal > flags_.size()) {
        inconsistent_ = true;
        return;
    }
    flags_[ordinal - 1] |= flag;
}

void BatchOutcome::recorded(std::uint64_t ordinal) noexcept {
    if (ordinal >= 1 && ordinal <= flags_.size() && (flags_[ordinal - 1] & kRecorded)) {
        inconsistent_ = true;  // an id is recorded once
        return;
    }
    set(ordinal, kRecorded);
    if (!inconsistent_) ++recorded_;
}

void BatchOutcome::below_checkpoint(std::uint64_t ordinal) noexcept { set(ordinal, kBelow); }

void BatchOutcome::distinct(std::uint64_t ids) noexcept {
    ++summaries_;
    distinct_ids_ = ids;
}

bool BatchOutcome::divergent(std::uint64_t ordinal) noexcept {
    if (ordinal < 1 || ordinal > flags_.size()) {
        inconsistent_ = true;
        return false;
    }
    const std::size_t position = static_cast<std::size_t>(ordinal);
    if (first_divergent_ && *first_divergent_ <= position) return false;
    first_divergent_ = position;
    return true;
}

std::size_t BatchOutcome::positions_expected() const {
    std::size_t n = 0;
    for (std::uint8_t f : flags_) n += (f & kRecorded) && (f & kPositioned);
    return n;
}

std::optional<std::size_t> BatchOutcome::first_missing() const {
    for (std::size_t i = 0; i < flags_.size(); ++i) {
        if ((flags_[i] & kMissing) && !(flags_[i] & kBelow)) return i + 1;
    }
    return std::nullopt;
}

}  // namespace po
