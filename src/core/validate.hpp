// Checks on the key of an offset row, done before any SQL runs so that bad
// input records nothing and gets a precise SQLSTATE.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "problem.hpp"

namespace po {

// Both key columns share one B-tree entry, which PostgreSQL caps at about
// 2700 bytes; these limits keep every pair well below that cap.
inline constexpr std::size_t kMaxEventIdBytes = 1024;
inline constexpr std::size_t kMaxHandlerNameBytes = 256;

// One argument as SQL passed it: absent when NULL.
using SqlText = std::optional<std::string_view>;

// arg_name names the SQL argument in the message ("event_id").
std::optional<Problem> check_key_part(std::string_view arg_name, const SqlText& value, std::size_t max_bytes);

inline std::optional<Problem> check_event_id(std::string_view arg_name, const SqlText& value) {
    return check_key_part(arg_name, value, kMaxEventIdBytes);
}

inline std::optional<Problem> check_handler_name(const SqlText& value) {
    return check_key_part("handler_name", value, kMaxHandlerNameBytes);
}

// An element of an event id array; position is 1-based as in SQL.
std::optional<Problem> check_event_id_element(std::size_t position, const SqlText& value);

// Where a value may be cut for a message: the largest length at most
// max_bytes (value.size() > max_bytes) that ends on a character boundary
// of the value's encoding.
using TextCutter = std::size_t (*)(std::string_view value, std::size_t max_bytes);

// Cuts by UTF-8 rules: the default cutter.
std::size_t utf8_cut(std::string_view value, std::size_t max_bytes);

// Sets the cutter excerpt() uses; the server installs one that follows the
// database encoding, whatever it is. nullptr restores utf8_cut.
void set_text_cutter(TextCutter cutter);

// Shortens a value for a message, so that a 1 kB id does not flood the log.
// The cut keeps whole characters, so the message stays valid text.
std::string excerpt(std::string_view value, std::size_t max_bytes = 64);

}  // namespace po
