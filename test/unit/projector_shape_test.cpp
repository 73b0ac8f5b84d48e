#include "core/projector_shape.hpp"

#include <gtest/gtest.h>

namespace po {
namespace {

RoutineShape shape(std::vector<ArgType> args, RoutineKind kind = RoutineKind::Function,
                   bool returns_set = false) {
    return RoutineShape{"f(...)", kind, std::move(args), returns_set};
}

TEST(ClassifyProjector, AcceptsPayloadOnly) {
    auto v = classify_projector(shape({ArgType::Jsonb}));
    ASSERT_TRUE(std::holds_alternative<CallForm>(v));
    EXPECT_EQ(std::get<CallForm>(v), CallForm::Payload);
    EXPECT_EQ(arg_count(CallForm::Payload), 1);
}

TEST(ClassifyProjector, AcceptsEventAndPayload) {
    auto v = classify_projector(shape({ArgType::Text, ArgType::Jsonb}));
    ASSERT_TRUE(std::holds_alternative<CallForm>(v));
    EXPECT_EQ(std::get<CallForm>(v), CallForm::EventAndPayload);
    EXPECT_EQ(arg_count(CallForm::EventAndPayload), 2);
}

TEST(ClassifyProjector, RejectsOtherSignaturesAsDatatypeMismatch) {
    for (auto args : std::vector<std::vector<ArgType>>{{},
                                                       {ArgType::Text},
                                                       {ArgType::Jsonb, ArgType::Text},
                                                       {ArgType::Other},
                                                       {ArgType::Text, ArgType::Jsonb, ArgType::Jsonb}}) {
        auto v = classify_projector(shape(args));
        ASSERT_TRUE(std::holds_alternative<Problem>(v));
        EXPECT_EQ(std::get<Problem>(v).sqlstate, "42804");
    }
}

TEST(ClassifyProjector, RejectsProceduresAggregatesAndWindowFunctions) {
    for (auto kind : {RoutineKind::Procedure, RoutineKind::Aggregate, RoutineKind::Window}) {
        auto v = classify_projector(shape({ArgType::Jsonb}, kind));
        ASSERT_TRUE(std::holds_alternative<Problem>(v));
        EXPECT_EQ(std::get<Problem>(v).sqlstate, "42809");
    }
    auto v = classify_projector(shape({ArgType::Jsonb}, RoutineKind::Procedure));
    EXPECT_EQ(std::get<Problem>(v).message, "f(...) is a procedure, not a function");
}

TEST(ClassifyProjector, RejectsSetReturningFunctions) {
    auto v = classify_projector(shape({ArgType::Jsonb}, RoutineKind::Function, true));
    ASSERT_TRUE(std::holds_alternative<Problem>(v));
    EXPECT_EQ(std::get<Problem>(v).message, "projector f(...) returns a set");
}

TEST(ClassifyProjector, SetProjectorOnlyForTheBatchForm) {
    auto args = std::vector<ArgType>{ArgType::TextArray, ArgType::JsonbArray};
    auto batch = classify_projector(shape(args), true);
    ASSERT_TRUE(std::holds_alternative<CallForm>(batch));
    EXPECT_EQ(std::get<CallForm>(batch), CallForm::Batch);
    auto single = classify_projector(shape(args), false);
    ASSERT_TRUE(std::holds_alternative<Problem>(single));
    EXPECT_EQ(std::get<Problem>(single).message, "projector f(...) takes a batch of events");
    // The per-event forms serve both.
    EXPECT_EQ(std::get<CallForm>(classify_projector(shape({ArgType::Jsonb}), true)), CallForm::Payload);
    // Arrays the other way round are no projector at all.
    auto swapped = classify_projector(shape({ArgType::JsonbArray, ArgType::TextArray}), true);
    EXPECT_EQ(std::get<Problem>(swapped).sqlstate, "42804");
}

}  // namespace
}  // namespace po
