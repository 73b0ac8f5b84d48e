#include "outcome.hpp"

#include <string>

namespace po {

ClaimOutcome classify_existing(const SqlText& stored_hash, const SqlText& given_hash) {
    if (stored_hash && given_hash && *stored_hash != *given_hash) return ClaimOutcome::Divergent;
    return ClaimOutcome::Duplicate;
}

std::string offset_words(std::string_view event_id, std::string_view handler_name) {
    return "offset of event \"" + excerpt(event_id) + "\" for handler \"" + excerpt(handler_name) + "\"";
}

Problem write_skipped_problem(std::string_view what, std::string_view table) {
    return Problem{sqlstate::object_not_in_prerequisite_state,
                   std::string(what) + " was not written to table \"" + std::string(table) + "\"",
                   "A BEFORE trigger on the table returned NULL for the row.",
                   "Triggers on the extension's tables must not skip its writes."};
}

Problem divergence_problem(std::string_view event_id, std::string_view handler_name,
                           std::string_view stored_hash, std::string_view given_hash) {
    return Problem{sqlstate::payload_hash_mismatch,
                   "event \"" + excerpt(event_id) + "\" was already applied by handler \"" +
                       excerpt(handler_name) + "\" with a different payload",
                   "Stored payload hash: " + excerpt(stored_hash, kMaxHashInMessage) +
                       ". Given payload hash: " + excerpt(given_hash, kMaxHashInMessage) + ".",
                   "An event id must identify one payload; give the changed event a new id."};
}

}  // namespace po
