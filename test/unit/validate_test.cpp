#include "core/validate.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <string>

namespace po {
namespace {

TEST(CheckKeyPart, AcceptsOrdinaryValue) {
    EXPECT_FALSE(check_event_id("event_id", std::string_view("evt-1")));
    EXPECT_FALSE(check_handler_name(std::string_view("orders.projector")));
}

TEST(CheckKeyPart, NullIsNullValueNotAllowedNamingTheArgument) {
    auto problem = check_event_id("event_id", std::nullopt);
    ASSERT_TRUE(problem);
    EXPECT_EQ(problem->sqlstate, "22004");
    EXPECT_EQ(problem->message, "event_id must not be null");
    auto handler = check_handler_name(std::nullopt);
    ASSERT_TRUE(handler);
    EXPECT_EQ(handler->message, "handler_name must not be null");
}

TEST(CheckKeyPart, EmptyIsInvalidParameterValue) {
    auto problem = check_handler_name(std::string_view(""));
    ASSERT_TRUE(problem);
    EXPECT_EQ(problem->sqlstate, "22023");
    EXPECT_EQ(problem->message, "handler_name must not be empty");
}

TEST(CheckKeyPart, LimitIsInclusiveAndCountsBytes) {
    std::string at_limit(kMaxEventIdBytes, 'x');
    EXPECT_FALSE(check_event_id("event_id", std::string_view(at_limit)));
    std::string over = at_limit + "y";
    auto problem = check_event_id("event_id", std::string_view(over));
    ASSERT_TRUE(problem);
    EXPECT_EQ(problem->sqlstate, "22001");
    EXPECT_EQ(problem->detail, "The value is 1025 bytes; the limit is 1024 bytes.");

    // "é" is two bytes: 129 of them exceed the 256-byte handler limit.
    std::string accented;
    for (int i = 0; i < 129; ++i) accented += "\xC3\xA9";
    EXPECT_TRUE(check_handler_name(std::string_view(accented)));
}

TEST(CheckKeyPart, MessageStyleIsLowerCaseWithoutPeriod) {
    for (const auto& problem : {check_event_id("event_id", std::nullopt),
                                check_event_id("event_id", std::string_view(""))}) {
        ASSERT_TRUE(problem);
        EXPECT_TRUE(std::islower(static_cast<unsigned char>(problem->message.front())));
        EXPECT_NE(problem->message.back(), '.');
    }
}

TEST(CheckEventIdElement, NamesThePosition) {
    auto problem = check_event_id_element(3, std::nullopt);
    ASSERT_TRUE(problem);
    EXPECT_EQ(problem->message, "element 3 of event_ids must not be null");
    EXPECT_FALSE(check_event_id_element(1, std::string_view("a")));
}

TEST(Excerpt, KeepsShortValues) { EXPECT_EQ(excerpt("abc", 5), "abc"); }

TEST(Excerpt, CutsLongValuesOnCharacterBoundary) {
    EXPECT_EQ(excerpt("abcdef", 3), "abc...");
    // Cutting at byte 2 would split the two-byte "é" that starts at byte 1.
    EXPECT_EQ(excerpt("a\xC3\xA9z", 2), "a...");
}

}  // namespace
}  // namespace po
