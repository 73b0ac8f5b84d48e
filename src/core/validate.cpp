#include "validate.hpp"

#include <string>

namespace po {

namespace {

TextCutter text_cutter = utf8_cut;

}  // namespace

std::size_t utf8_cut(std::string_view value, std::size_t max_bytes) {
    std::size_t cut = max_bytes;
    while (cut > 0 && (static_cast<unsigned char>(value[cut]) & 0xC0) == 0x80) --cut;
    return cut;
}

void set_text_cutter(TextCutter cutter) { text_cutter = cutter ? cutter : utf8_cut; }

std::string excerpt(std::string_view value, std::size_t max_bytes) {
    if (value.size() <= max_bytes) return std::string(value);
    const std::size_t cut = text_cutter(value, max_bytes);
    return std::string(value.substr(0, cut < max_bytes ? cut : max_bytes)) + "...";
}

std::optional<Problem> check_key_part(std::string_view arg_name, const SqlText& value,
                                      std::size_t max_bytes) {
    const std::string arg(arg_name);
    if (!value) {
        return Problem{sqlstate::null_value_not_allowed, arg + " must not be null", "", ""};
    }
    if (value->empty()) {
        return Problem{sqlstate::invalid_parameter_value, arg + " must not be empty", "", ""};
    }
    if (value->size() > max_bytes) {
        return Problem{sqlstate::string_data_right_truncation, arg + " is too long",
                       "The value is " + std::to_string(value->size()) + " bytes; the limit is " +
                           std::to_string(max_bytes) + " bytes.",
                       "Use a shorter identifier, for example a hash of the long one."};
    }
    return std::nullopt;
}

std::optional<Problem> check_event_id_element(std::size_t position, const SqlText& value) {
    auto problem = check_key_part("event_ids", value, kMaxEventIdBytes);
    if (problem) {
        problem->message = "element " + std::to_string(position) + " of " + problem->message;
    }
    return problem;
}

}  // namespace po
