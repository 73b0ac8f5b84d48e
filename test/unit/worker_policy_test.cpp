#include "core/worker_policy.hpp"

#include <gtest/gtest.h>

namespace po {
namespace {

TEST(SplitDatabaseList, TrimsAndDropsEmptyAndRepeatedNames) {
    EXPECT_EQ(split_database_list(" shop ,billing,,shop, "), (std::vector<std::string>{"shop", "billing"}));
    EXPECT_TRUE(split_database_list("").empty());
    EXPECT_TRUE(split_database_list(" , ,").empty());
    EXPECT_EQ(split_database_list("a"), (std::vector<std::string>{"a"}));
}

TEST(SplitDatabaseList, KeepsInnerSpacesAndCase) {
    EXPECT_EQ(split_database_list("My Db,my db"), (std::vector<std::string>{"My Db", "my db"}));
}

TEST(RetryBackoff, DoublesFrom200MsUpTo60s) {
    EXPECT_EQ(retry_backoff_ms(1), 200);
    EXPECT_EQ(retry_backoff_ms(2), 400);
    EXPECT_EQ(retry_backoff_ms(5), 3200);
    EXPECT_EQ(retry_backoff_ms(9), 51200);
    EXPECT_EQ(retry_backoff_ms(10), 60000);
    EXPECT_EQ(retry_backoff_ms(1000000), 60000);
    EXPECT_EQ(retry_backoff_ms(0), 200);
}

TEST(OnFailure, RetriesBelowTheLimitThenParksOrStops) {
    EXPECT_EQ(on_failure(1, 3, true), FailureAction::Retry);
    EXPECT_EQ(on_failure(2, 3, false), FailureAction::Retry);
    EXPECT_EQ(on_failure(3, 3, true), FailureAction::Park);
    EXPECT_EQ(on_failure(3, 3, false), FailureAction::Stop);
    EXPECT_EQ(on_failure(1, 1, false), FailureAction::Stop);
}

TEST(CursorAfterBatch, AShortBatchReachesTheSafePosition) {
    EXPECT_EQ(cursor_after_batch(100, 0, 500, 0), 100);
    EXPECT_EQ(cursor_after_batch(100, 3, 500, 42), 100);
}

TEST(CursorAfterBatch, AFullBatchStopsAtItsLastEvent) {
    EXPECT_EQ(cursor_after_batch(100, 500, 500, 60), 60);
    EXPECT_EQ(cursor_after_batch(100, 1, 1, 7), 7);
}

TEST(WriterPoll, StartsAt1MsAndDoublesToTheCeiling) {
    EXPECT_EQ(next_writer_poll_ms(0, 64), 1);
    EXPECT_EQ(next_writer_poll_ms(1, 64), 2);
    EXPECT_EQ(next_writer_poll_ms(32, 64), 64);
    EXPECT_EQ(next_writer_poll_ms(64, 64), 64);
}

TEST(LauncherRestart, DoublesFrom1sTo60sWhileTheWorkerKeepsFailing) {
    EXPECT_EQ(launcher_restart_delay_ms(0, 10), 1000);
    EXPECT_EQ(launcher_restart_delay_ms(1000, 10), 2000);
    EXPECT_EQ(launcher_restart_delay_ms(32000, 10), 60000);
    EXPECT_EQ(launcher_restart_delay_ms(60000, 59999), 60000);
}

TEST(LauncherRestart, AWorkerThatRanAMinuteStartsTheCountAgain) {
    EXPECT_EQ(launcher_restart_delay_ms(60000, 60000), 1000);
    EXPECT_EQ(launcher_restart_delay_ms(8000, 3600000), 1000);
}

}  // namespace
}  // namespace po
