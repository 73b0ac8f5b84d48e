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
    EXPECT_EQ(check_event_entry(1, e)->message,
              "element 1 of events has a \"position\" that is not a number");
}

TEST(BatchOutcome, AllFreshEventsRecordedNeedNoCheck) {
    BatchOutcome outcome(3);
    outcome.recorded(2);
    outcome.recorded(1);
    outcome.recorded(3);
    outcome.distinct(3);
    EXPECT_TRUE(outcome.consistent());
    EXPECT_TRUE(outcome.all_recorded());
    EXPECT_EQ(outcome.recorded_count(), 3u);
    EXPECT_TRUE(outcome.is_recorded(1) && outcome.is_recorded(2) && outcome.is_recorded(3));
    EXPECT_FALSE(outcome.first_divergent());
    EXPECT_FALSE(outcome.first_missing());
}

TEST(BatchOutcome, RepeatsAndRedeliveriesAreNotRecorded) {
    // Events c, a, c, b, a with c and a recorded now: their first occurrences.
    BatchOutcome outcome(5);
    outcome.recorded(1);
    outcome.recorded(2);
    outcome.distinct(3);
    EXPECT_TRUE(outcome.consistent());
    EXPECT_FALSE(outcome.all_recorded());
    EXPECT_EQ(outcome.recorded_count(), 2u);
    EXPECT_EQ(outcome.distinct_ids(), 3u);
    EXPECT_FALSE(outcome.is_recorded(3));
}

TEST(BatchOutcome, TheEarliestDivergenceWinsWhateverTheRowOrder) {
    BatchOutcome outcome(10);
    outcome.distinct(10);
    EXPECT_TRUE(outcome.divergent(7));
    EXPECT_TRUE(outcome.divergent(3));
    EXPECT_FALSE(outcome.divergent(5));  // later than 3: the caller keeps 3's hashes
    EXPECT_FALSE(outcome.divergent(3));
    EXPECT_EQ(outcome.first_divergent(), std::optional<std::size_t>(3));
}

TEST(BatchOutcome, MissingIdsBelowTheCheckpointAreExpected) {
    BatchOutcome outcome(4);
    outcome.distinct(4);
    outcome.below_checkpoint(2);
    outcome.missing(2);  // below the checkpoint and pruned: not an error
    EXPECT_FALSE(outcome.first_missing());
    outcome.missing(4);
    outcome.missing(3);
    EXPECT_EQ(outcome.first_missing(), std::optional<std::size_t>(3));
}

TEST(BatchOutcome, PositionsExpectedAreThoseOfRecordedEvents) {
    BatchOutcome outcome(4);
    outcome.has_position(1);
    outcome.has_position(2);
    outcome.has_position(4);
    outcome.recorded(1);
    outcome.recorded(3);
    outcome.recorded(4);
    outcome.distinct(4);
    outcome.positions(2);
    EXPECT_EQ(outcome.positions_expected(), 2u);
    EXPECT_EQ(outcome.positions_recorded(), 2u);
}

TEST(BatchOutcome, OrdinalsOutOfRangeOrRepeatedMakeItInconsistent) {
    BatchOutcome zero(2);
    zero.distinct(2);
    zero.recorded(0);
    EXPECT_FALSE(zero.consistent());
    BatchOutcome beyond(2);
    beyond.distinct(2);
    beyond.missing(3);
    EXPECT_FALSE(beyond.consistent());
    BatchOutcome twice(2);
    twice.distinct(2);
    twice.recorded(1);
    twice.recorded(1);
    EXPECT_FALSE(twice.consistent());
    EXPECT_EQ(twice.recorded_count(), 1u);
    BatchOutcome divergent(2);
    divergent.distinct(2);
    EXPECT_FALSE(divergent.divergent(9));
    EXPECT_FALSE(divergent.consistent());
}

TEST(BatchOutcome, NeedsExactlyOneSummary) {
    BatchOutcome none(1);
    EXPECT_FALSE(none.consistent());
    BatchOutcome two(1);
    two.distinct(1);
    two.distinct(1);
    EXPECT_FALSE(two.consistent());
}

TEST(BatchDivergenceProblem, NamesTheElement) {
    Problem p = batch_divergence_problem(2, "b", "handler", "h2", "h9");
    EXPECT_EQ(p.sqlstate, "PJ001");
    EXPECT_EQ(p.message.rfind("element 2 of events: event \"b\"", 0), 0u) << p.message;
    EXPECT_NE(p.detail.find("h9"), std::string::npos);
}

}  // namespace
}  // namespace po
