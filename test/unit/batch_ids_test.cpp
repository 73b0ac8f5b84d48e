#include "core/batch_ids.hpp"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace po {
namespace {

void no_check() {}

TEST(CompareBytes, IsTheOrderOfCollateC) {
    EXPECT_LT(compare_bytes("a", "b"), 0);
    EXPECT_LT(compare_bytes("ab", "abc"), 0);  // a prefix first
    EXPECT_GT(compare_bytes("b", "abc"), 0);
    EXPECT_EQ(compare_bytes("", ""), 0);
    EXPECT_LT(compare_bytes("", "a"), 0);
    EXPECT_LT(compare_bytes("Z", "a"), 0);         // bytes, not letters
    EXPECT_LT(compare_bytes("z", "\xc3\xa9"), 0);  // UTF-8 above ASCII
}

TEST(BatchIds, GroupsRepeatsInSortedOrderWithOrdinalsAscending) {
    const std::vector<std::string> ids = {"e-2", "e-1", "e-2", "e-10", "e-1", "e-2"};
    BatchIds batch(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) batch.add(ids[i], static_cast<std::uint32_t>(i + 1));
    batch.sort(no_check);
    ASSERT_EQ(batch.groups(), 3u);
    EXPECT_EQ(batch.id(0), "e-1");
    EXPECT_EQ(batch.id(1), "e-10");
    EXPECT_EQ(batch.id(2), "e-2");
    ASSERT_EQ(batch.occurrences(0), 2u);
    EXPECT_EQ(batch.occurrence(0, 0), 2u);
    EXPECT_EQ(batch.occurrence(0, 1), 5u);
    ASSERT_EQ(batch.occurrences(2), 3u);
    EXPECT_EQ(batch.occurrence(2, 0), 1u);
    EXPECT_EQ(batch.occurrence(2, 1), 3u);
    EXPECT_EQ(batch.occurrence(2, 2), 6u);
}

TEST(BatchIds, FindsWithinARangeOfGroups) {
    std::vector<std::string> ids;
    for (int i = 0; i < 1000; ++i) ids.push_back("id-" + std::to_string(i * 7 % 1000));
    BatchIds batch(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) batch.add(ids[i], static_cast<std::uint32_t>(i + 1));
    batch.sort(no_check);
    ASSERT_EQ(batch.groups(), 1000u);
    for (std::size_t g = 0; g < batch.groups(); ++g) {
        ASSERT_EQ(batch.find(batch.id(g), 0, batch.groups()), g);
    }
    EXPECT_FALSE(batch.find("id-", 0, batch.groups()));
    EXPECT_FALSE(batch.find("id-99x", 0, batch.groups()));
    // Outside the range given, not found.
    EXPECT_FALSE(batch.find(batch.id(10), 11, 20));
    EXPECT_EQ(batch.find(batch.id(10), 10, 20), 10u);
    EXPECT_FALSE(batch.find(batch.id(10), 0, 0));
}

TEST(BatchIds, ReleasedIdsAreNoGroups) {
    const std::string id = "e-1";
    BatchIds batch(1);
    batch.add(id, 1);
    batch.sort(no_check);
    ASSERT_EQ(batch.groups(), 1u);
    batch.release();
    EXPECT_EQ(batch.groups(), 0u);
}

TEST(BatchIds, EmptyBatchHasNoGroups) {
    BatchIds batch(0);
    batch.sort(no_check);
    EXPECT_EQ(batch.groups(), 0u);
    EXPECT_FALSE(batch.find("x", 0, 0));
}

int checks = 0;
void counting_check() {
    if (++checks == 3) throw std::runtime_error("canceled");
}

TEST(BatchIds, SortChecksForInterruptsAndCanBeAbandoned) {
    std::vector<std::string> ids;
    for (int i = 0; i < 20000; ++i) ids.push_back(std::to_string((i * 7919) % 20000));
    BatchIds batch(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) batch.add(ids[i], static_cast<std::uint32_t>(i + 1));
    checks = 0;
    EXPECT_THROW(batch.sort(counting_check), std::runtime_error);
    EXPECT_EQ(checks, 3);
}

}  // namespace
}  // namespace po
