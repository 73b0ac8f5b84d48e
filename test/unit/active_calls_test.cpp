#include "core/active_calls.hpp"

#include <gtest/gtest.h>

namespace po {
namespace {

TEST(ActiveCalls, EnterRaisesAndLeaveLowersTheCounter) {
    ActiveCalls calls;
    int executing = 0;
    const std::size_t outer = calls.enter(1, &executing);
    const std::size_t inner = calls.enter(1, &executing);
    EXPECT_EQ(executing, 2);
    calls.leave(inner);
    EXPECT_EQ(executing, 1);
    calls.leave(outer);
    EXPECT_EQ(executing, 0);
    EXPECT_EQ(calls.size(), 0u);
}

TEST(ActiveCalls, LeavingAnOuterCallDropsAbandonedInnerOnes) {
    // An inner call whose frame was skipped never leaves; its outer call
    // leaving drops it too, and each counter gets back what it was raised by.
    ActiveCalls calls;
    int executing = 0, running = 0;
    const std::size_t outer = calls.enter(1, &executing);
    calls.enter(1, &running);
    calls.enter(2, &executing);
    EXPECT_EQ(executing, 2);
    EXPECT_EQ(running, 1);
    calls.leave(outer);
    EXPECT_EQ(executing, 0);
    EXPECT_EQ(running, 0);
}

TEST(ActiveCalls, AbortedSubtransactionDropsItsCallsOnly) {
    ActiveCalls calls;
    int executing = 0;
    const std::size_t outer = calls.enter(1, &executing);
    calls.enter(2, &executing);
    calls.enter(3, &executing);
    calls.abort_level(2);
    EXPECT_EQ(executing, 1);
    EXPECT_EQ(calls.size(), 1u);
    // The outer call is still running and leaves normally.
    calls.leave(outer);
    EXPECT_EQ(executing, 0);
}

TEST(ActiveCalls, LeavingADroppedCallDoesNothing) {
    ActiveCalls calls;
    int executing = 0;
    calls.enter(1, &executing);
    const std::size_t inner = calls.enter(2, &executing);
    calls.abort_level(2);
    calls.leave(inner);
    EXPECT_EQ(executing, 1);
    EXPECT_EQ(calls.size(), 1u);
}

TEST(ActiveCalls, TransactionEndClearsEverything) {
    ActiveCalls calls;
    int executing = 0, running = 0;
    calls.enter(1, &executing);
    calls.enter(1, &running);
    calls.enter(4, &executing);
    calls.clear();
    EXPECT_EQ(executing, 0);
    EXPECT_EQ(running, 0);
    EXPECT_EQ(calls.size(), 0u);
}

TEST(ActiveCalls, AbortOfALevelAboveAllCallsKeepsThem) {
    ActiveCalls calls;
    int executing = 0;
    calls.enter(1, &executing);
    calls.enter(2, &executing);
    calls.abort_level(3);
    EXPECT_EQ(executing, 2);
}

}  // namespace
}  // namespace po
