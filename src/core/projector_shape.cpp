#include "projector_shape.hpp"

namespace po {

namespace {

Problem not_a_function(const RoutineShape& shape, const char* what) {
    return Problem{sqlstate::wrong_object_type, shape.display_name + " is " + what + ", not a function", "",
                   "A projector is a plain function taking (jsonb) or (text, jsonb)."};
}

}  // namespace

std::variant<CallForm, Problem> classify_projector(const RoutineShape& shape, bool batch) {
    switch (shape.kind) {
        case RoutineKind::Procedure: return not_a_function(shape, "a procedure");
        case RoutineKind::Aggregate: return not_a_function(shape, "an aggregate function");
        case RoutineKind::Window: return not_a_function(shape, "a window function");
        case RoutineKind::Function: break;
    }
    if (shape.returns_set) {
        return Problem{sqlstate::wrong_object_type, "projector " + shape.display_name + " returns a set", "",
                       "A projector's result is ignored; declare it RETURNS void."};
    }
    const auto& a = shape.args;
    if (a.size() == 1 && a[0] == ArgType::Jsonb) return CallForm::Payload;
    if (a.size() == 2 && a[0] == ArgType::Text && a[1] == ArgType::Jsonb) return CallForm::EventAndPayload;
    const bool set_projector = a.size() == 2 && a[0] == ArgType::TextArray && a[1] == ArgType::JsonbArray;
    if (set_projector && batch) return CallForm::Batch;
    if (set_projector) {
        return Problem{sqlstate::datatype_mismatch,
                       "projector " + shape.display_name + " takes a batch of events",
                       "A projector taking (text[], jsonb[]) is called once per batch.",
                       "Use apply_with_offset_batch(handler_name, projector, events)."};
    }
    return Problem{sqlstate::datatype_mismatch,
                   "projector " + shape.display_name + " has no matching signature",
                   batch ? "A projector takes (jsonb) or (text, jsonb), the event id and its payload, "
                           "or (text[], jsonb[]) for the whole batch."
                         : "A projector takes (jsonb) or (text, jsonb), the event id and its payload.",
                   ""};
}

}  // namespace po
