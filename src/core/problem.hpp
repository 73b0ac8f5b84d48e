// A rejected input, described without PostgreSQL: the boundary layer turns it
// into an ereport with the same SQLSTATE, message, detail and hint.
#pragma once

#include <string>

namespace po {

struct Problem {
    std::string sqlstate;  // five characters, e.g. "22004"
    std::string message;   // PostgreSQL style: lower case, no trailing period
    std::string detail;    // full sentence or empty
    std::string hint;      // full sentence or empty
};

// SQLSTATEs the extension raises. PJ is the extension's own class.
namespace sqlstate {
inline constexpr const char* null_value_not_allowed = "22004";
inline constexpr const char* invalid_parameter_value = "22023";
inline constexpr const char* string_data_right_truncation = "22001";
inline constexpr const char* wrong_object_type = "42809";
inline constexpr const char* datatype_mismatch = "42804";
inline constexpr const char* invalid_text_representation = "22P02";
inline constexpr const char* object_not_in_prerequisite_state = "55000";
inline constexpr const char* serialization_failure = "40001";
inline constexpr const char* undefined_function = "42883";
inline constexpr const char* payload_hash_mismatch = "PJ001";
inline constexpr const char* projector_not_idempotent = "PJ002";
}  // namespace sqlstate

}  // namespace po
