// Which functions may serve as a projector, decided from a description of
// the catalog entry so that the rule is testable without a server.
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "problem.hpp"

namespace po {

enum class RoutineKind { Function, Procedure, Aggregate, Window };
enum class ArgType { Text, Jsonb, Other, TextArray, JsonbArray };

struct RoutineShape {
    std::string display_name;  // as regprocedure prints it
    RoutineKind kind = RoutineKind::Function;
    std::vector<ArgType> args;
    bool returns_set = false;
};

// How the projector is called: once per event with (jsonb) or (text, jsonb),
// or, by the batch form only, once per batch with (text[], jsonb[]): the ids
// and payloads of the events applied now, in order.
enum class CallForm { Payload, EventAndPayload, Batch };

// `batch` says whether the caller is the batch form, the only one that
// accepts a set projector.
std::variant<CallForm, Problem> classify_projector(const RoutineShape& shape, bool batch = false);

inline int arg_count(CallForm form) { return form == CallForm::Payload ? 1 : 2; }

}  // namespace po
