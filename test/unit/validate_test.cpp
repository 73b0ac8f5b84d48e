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
    for (const auto& problem :
         {check_event_id("event_id", std::nullopt), check_event_id("event_id", std::string_view(""))}) {
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

// A cutter for a made-up double-byte encoding: a byte with the high bit set
// starts a two-byte character whose second byte also has the high bit set,
// as in EUC-JP, where the UTF-8 rule cuts inside characters.
std::size_t double_byte_cut(std::string_view value, std::size_t max_bytes) {
    std::size_t at = 0;
    while (at < value.size()) {
        const std::size_t length = (static_cast<unsigned char>(value[at]) & 0x80) ? 2 : 1;
        if (at + length > max_bytes) break;
        at += length;
    }
    return at;
}

struct WithCutter {
    explicit WithCutter(TextCutter cutter) { set_text_cutter(cutter); }
    ~WithCutter() { set_text_cutter(nullptr); }
};

TEST(Excerpt, UsesTheInstalledCutter) {
    // "x" then three double-byte characters whose bytes look like UTF-8
    // continuation bytes (0x80-0xBF) or lead bytes (0xC0-0xFF).
    const std::string value = "x\xB0\xA1\xC0\xB1\xB2\xC3";
    // The UTF-8 rule stops at the "lead" byte 0xC3, which is the second
    // byte of the last character: it keeps 0xB2 without it.
    EXPECT_EQ(utf8_cut(value, 6), 6u);
    WithCutter cutter(double_byte_cut);
    EXPECT_EQ(excerpt(value, 2), "x...");
    EXPECT_EQ(excerpt(value, 4), "x\xB0\xA1...");
    EXPECT_EQ(excerpt(value, 6), "x\xB0\xA1\xC0\xB1...");
}

TEST(Excerpt, NeverKeepsMoreThanTheLimitWhateverTheCutterSays) {
    WithCutter cutter([](std::string_view, std::size_t max_bytes) { return max_bytes + 10; });
    EXPECT_EQ(excerpt("abcdef", 3), "abc...");
}

TEST(Excerpt, NullCutterRestoresUtf8) {
    set_text_cutter(double_byte_cut);
    set_text_cutter(nullptr);
    EXPECT_EQ(excerpt("a\xC3\xA9z", 2), "a...");
}

}  // namespace
}  // namespace po
