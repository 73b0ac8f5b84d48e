#include "batch.hpp"

#include <string>

#include "outcome.hpp"

namespace po {

namespace {

std::string element(std::size_t position) {
    return "element " + std::to_string(position) + " of events";
}

}  // namespace

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
        return Problem{sqlstate::invalid_parameter_value,
                       where + " has a \"position\" that is not a number", "", ""};
    }
    auto problem = check_key_part("event_id", entry.id, kMaxEventIdBytes);
    if (problem) problem->message = where + ": " + problem->message;
    return problem;
}

std::variant<std::vector<std::size_t>, Problem> plan_batch(
    const std::vector<BatchEvent>& events,
    const std::unordered_map<std::string_view, SqlText>& stored_hashes,
    const std::unordered_set<std::string_view>& recorded_now, std::string_view handler_name) {
    std::vector<std::size_t> to_apply;
    std::unordered_set<std::string_view> planned;
    for (std::size_t i = 0; i < events.size(); ++i) {
        const BatchEvent& event = events[i];
        auto stored = stored_hashes.find(event.id);
        if (stored != stored_hashes.end() &&
            classify_existing(stored->second, event.hash) == ClaimOutcome::Divergent) {
            Problem problem =
                divergence_problem(event.id, handler_name, *stored->second, *event.hash);
            problem.message = element(i + 1) + ": " + problem.message;
            return problem;
        }
        if (recorded_now.count(event.id) && planned.insert(event.id).second) to_apply.push_back(i);
    }
    return to_apply;
}

}  // namespace po
