#include "core/outcome.hpp"

#include <gtest/gtest.h>

namespace po {
namespace {

TEST(ClassifyExisting, SameHashIsDuplicate) {
    EXPECT_EQ(classify_existing(std::string_view("h1"), std::string_view("h1")), ClaimOutcome::Duplicate);
}

TEST(ClassifyExisting, DifferentHashesDiverge) {
    EXPECT_EQ(classify_existing(std::string_view("h1"), std::string_view("h2")), ClaimOutcome::Divergent);
}

TEST(ClassifyExisting, AMissingHashOnEitherSideCannotDiverge) {
    EXPECT_EQ(classify_existing(std::nullopt, std::string_view("h2")), ClaimOutcome::Duplicate);
    EXPECT_EQ(classify_existing(std::string_view("h1"), std::nullopt), ClaimOutcome::Duplicate);
    EXPECT_EQ(classify_existing(std::nullopt, std::nullopt), ClaimOutcome::Duplicate);
}

TEST(DivergenceProblem, NamesEventHandlerAndBothHashes) {
    Problem p = divergence_problem("evt-7", "orders", "aaa", "bbb");
    EXPECT_EQ(p.sqlstate, "PJ001");
    EXPECT_EQ(p.message,
              "event \"evt-7\" was already applied by handler \"orders\" with a different payload");
    EXPECT_EQ(p.detail, "Stored payload hash: aaa. Given payload hash: bbb.");
    EXPECT_FALSE(p.hint.empty());
}

TEST(WriteSkippedProblem, NamesTheRowAndTheTable) {
    Problem p = write_skipped_problem(offset_words("evt-7", "orders"), "projection_offset");
    EXPECT_EQ(p.sqlstate, "55000");
    EXPECT_EQ(
        p.message,
        "offset of event \"evt-7\" for handler \"orders\" was not written to table \"projection_offset\"");
    EXPECT_EQ(p.detail, "A BEFORE trigger on the table returned NULL for the row.");
    EXPECT_FALSE(p.hint.empty());
}

TEST(OffsetWords, ShortensLongIdsAndNames) {
    std::string words = offset_words(std::string(1000, 'e'), std::string(300, 'h'));
    EXPECT_LT(words.size(), 200u);
}

TEST(DivergenceProblem, ShortensVeryLongIdsInTheMessage) {
    std::string id(1000, 'e');
    Problem p = divergence_problem(id, "h", "a", "b");
    EXPECT_LT(p.message.size(), 200u);
    EXPECT_NE(p.message.find("..."), std::string::npos);
}

}  // namespace
}  // namespace po

namespace po {
namespace {

TEST(DivergenceProblem, KeepsFullSha256HexButBoundsFreeTextHashes) {
    std::string sha(64, 'a');
    Problem p = divergence_problem("e", "h", sha, std::string(64, 'b'));
    EXPECT_NE(p.detail.find(sha), std::string::npos);
    Problem huge = divergence_problem("e", "h", std::string(1 << 20, 'x'), std::string(1 << 20, 'y'));
    EXPECT_LT(huge.detail.size(), 400u);
}

}  // namespace
}  // namespace po
