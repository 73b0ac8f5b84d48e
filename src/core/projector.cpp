#include "projector.hpp"

namespace po {

namespace {

Problem not_a_function(const RoutineShape& shape, const char* what) {
    return Problem{sqlstate::wrong_object_type,
                   shape.display_name + " is " + what + ", not a function",
                   "",
                   "A projector is a plain function taking (jsonb) or (text, jsonb)."};
}

}  // namespace

std::variant<CallForm, Problem> classify_projector(const RoutineShape& shape) {
    switch (shape.kind) {
        case RoutineKind::Procedure: return not_a_function(shape, "a procedure");
        case RoutineKind::Aggregate: return not_a_function(shape, "an aggregate function");
        case RoutineKind::Window: return not_a_function(shape, "a window function");
        case RoutineKind::Function: break;
    }
    if (shape.returns_set) {
        return Problem{sqlstate::wrong_object_type,
                       "projector " + shape.display_name + " returns a set",
                       "",
                       "A projector's result is ignored; declare it RETURNS void."};
    }
    if (shape.args.size() == 1 && shape.args[0] == ArgType::Jsonb) return CallForm::Payload;
    if (shape.args.size() == 2 && shape.args[0] == ArgType::Text && shape.args[1] == ArgType::Jsonb)
        return CallForm::EventAndPayload;
    return Problem{sqlstate::datatype_mismatch,
                   "projector " + shape.display_name + " has no matching signature",
                   "A projector takes (jsonb) or (text, jsonb), the event id and its payload.",
                   ""};
}

}  // namespace po
