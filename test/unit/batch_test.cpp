#include "core/batch.hpp"

#include <gtest/gtest.h>

namespace po {
namespace {

EventEntry entry_with_id(std::string_view id) {
    EventEntry e;
    e.is_object = true;
    e.id_kind = JsonKind::String;
    e.id = id;
    return e;
}

TEST(CheckEventEntry, AcceptsObjectWithStringId) {
    EXPECT_FALSE(check_event_entry(1, entry_with_id("e-1")));
    EventEntry with_position = entry_with_id("e-1");
    with_position.position_kind = JsonKind::Number;
    EXPECT_FALSE(check_event_entry(1, with_position));
}

TEST(CheckEventEntry, RejectsNonObjects) {
    EventEntry e;
    auto problem = check_event_entry(4, e);
    ASSERT_TRUE(problem);
    EXPECT_EQ(problem->sqlstate, "22023");
    EXPECT_EQ(problem->message, "element 4 of events is not a JSON object");
}

TEST(CheckEventEntry, EventIdMustBeANonEmptyStringWithinTheLimit) {
    EventEntry e = entry_with_id("");
    e.id_kind = JsonKind::Missing;
    EXPECT_EQ(check_event_entry(1, e)->message, "element 1 of events has no \"event_id\"");
    e.id_kind = JsonKind::Null;
    EXPECT_EQ(check_event_entry(1, e)->sqlstate, "22004");
    e.id_kind = JsonKind::Number;
    EXPECT_EQ(check_event_entry(1, e)->sqlstate, "22023");
    auto empty = check_event_entry(2, entry_with_id(""));
    ASSERT_TRUE(empty);
    EXPECT_EQ(empty->message, "element 2 of events: event_id must not be empty");
    std::string long_id(kMaxEventIdBytes + 1, 'x');
    EXPECT_EQ(check_event_entry(3, entry_with_id(long_id))->sqlstate, "22001");
}

TEST(CheckEventEntry, PositionMustBeANumber) {
    EventEntry e = entry_with_id("e");
    e.position_kind = JsonKind::String;
    EXPECT_EQ(check_event_entry(1, e)->message, "element 1 of events has a \"position\" that is not a number");
}

TEST(PlanBatch, AppliesFirstOccurrenceOfEachRecordedIdInArrayOrder) {
    std::vector<BatchEvent> events{{"c", std::nullopt}, {"a", std::nullopt}, {"c", std::nullopt},
                                   {"b", std::nullopt}, {"a", std::nullopt}};
    auto plan = plan_batch(events, {}, {"a", "c"}, "h");
    ASSERT_TRUE(std::holds_alternative<std::vector<std::size_t>>(plan));
    EXPECT_EQ(std::get<std::vector<std::size_t>>(plan), (std::vector<std::size_t>{0, 1}));
}

TEST(PlanBatch, NothingRecordedMeansNothingApplied) {
    std::vector<BatchEvent> events{{"a", std::nullopt}};
    auto plan = plan_batch(events, {}, {}, "h");
    EXPECT_TRUE(std::get<std::vector<std::size_t>>(plan).empty());
}

TEST(PlanBatch, DivergenceAgainstStoredHashNamesThePosition) {
    std::vector<BatchEvent> events{{"a", std::string_view("h1")}, {"b", std::string_view("h9")}};
    std::unordered_map<std::string_view, SqlText> stored{{"a", std::string_view("h1")},
                                                         {"b", std::string_view("h2")}};
    auto plan = plan_batch(events, stored, {"a"}, "handler");
    ASSERT_TRUE(std::holds_alternative<Problem>(plan));
    const Problem& p = std::get<Problem>(plan);
    EXPECT_EQ(p.sqlstate, "PJ001");
    EXPECT_EQ(p.message.rfind("element 2 of events: event \"b\"", 0), 0u) << p.message;
}

TEST(PlanBatch, RepeatWithDifferentPayloadInsideTheBatchDiverges) {
    // The stored hash of "a" is the one its first occurrence recorded.
    std::vector<BatchEvent> events{{"a", std::string_view("h1")}, {"a", std::string_view("h2")}};
    std::unordered_map<std::string_view, SqlText> stored{{"a", std::string_view("h1")}};
    auto plan = plan_batch(events, stored, {"a"}, "handler");
    ASSERT_TRUE(std::holds_alternative<Problem>(plan));
    EXPECT_NE(std::get<Problem>(plan).message.find("element 2"), std::string::npos);
}

TEST(PlanBatch, MissingHashesNeverDiverge) {
    std::vector<BatchEvent> events{{"a", std::nullopt}, {"a", std::string_view("h2")}};
    std::unordered_map<std::string_view, SqlText> stored{{"a", std::nullopt}};
    auto plan = plan_batch(events, stored, {"a"}, "handler");
    EXPECT_EQ(std::get<std::vector<std::size_t>>(plan), (std::vector<std::size_t>{0}));
}

}  // namespace
}  // namespace po
