// check_key_part, check_event_id_element and excerpt on arbitrary bytes.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <string>

#include "core/validate.hpp"
#include "fuzz_check.hpp"

using namespace po;

namespace {

void check_verdict(const std::optional<Problem>& problem, const SqlText& value, std::size_t limit,
                   std::string_view arg_name) {
    if (!value) {
        FUZZ_CHECK(problem && problem->sqlstate == "22004");
    } else if (value->empty()) {
        FUZZ_CHECK(problem && problem->sqlstate == "22023");
    } else if (value->size() > limit) {
        FUZZ_CHECK(problem && problem->sqlstate == "22001");
        // The detail gives the sizes, never the (possibly huge) value itself.
        FUZZ_CHECK(problem->detail == "The value is " + std::to_string(value->size()) +
                                          " bytes; the limit is " + std::to_string(limit) + " bytes.");
    } else {
        FUZZ_CHECK(!problem);
        return;
    }
    FUZZ_CHECK(problem->sqlstate.size() == 5);
    FUZZ_CHECK(!problem->message.empty());
    FUZZ_CHECK(problem->message.find(arg_name) != std::string::npos);
    FUZZ_CHECK(problem->message.back() != '.');
    // The message never quotes the value: only the argument name.
    FUZZ_CHECK(problem->message.size() <= arg_name.size() + 64);
}

void check_excerpt(std::string_view value, std::size_t max_bytes) {
    const std::string out = excerpt(value, max_bytes);
    if (value.size() <= max_bytes) {
        FUZZ_CHECK(out == value);
        return;
    }
    FUZZ_CHECK(out.size() >= 3 && out.compare(out.size() - 3, 3, "...") == 0);
    const std::string_view kept(out.data(), out.size() - 3);
    FUZZ_CHECK(kept.size() <= max_bytes);
    FUZZ_CHECK(value.substr(0, kept.size()) == kept);
    // The cut moves back at most three continuation bytes on valid text.
    if (fuzz::valid_utf8(value)) {
        FUZZ_CHECK(fuzz::valid_utf8(kept));
        FUZZ_CHECK(max_bytes - kept.size() <= 3);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FuzzedDataProvider in(data, size);
    const uint8_t mode = in.ConsumeIntegral<uint8_t>();
    const std::size_t small_limit = in.ConsumeIntegralInRange<std::size_t>(0, 300);
    const std::size_t position = in.ConsumeIntegral<std::size_t>();
    const std::string arg_name = in.ConsumeRandomLengthString(24);
    const std::string bytes = in.ConsumeRemainingBytesAsString();
    const SqlText value = (mode & 1) ? SqlText{} : SqlText{std::string_view(bytes)};

    check_verdict(check_event_id(arg_name, value), value, kMaxEventIdBytes, arg_name);
    check_verdict(check_handler_name(value), value, kMaxHandlerNameBytes, "handler_name");
    check_verdict(check_key_part(arg_name, value, small_limit), value, small_limit, arg_name);

    auto element = check_event_id_element(position, value);
    check_verdict(element, value, kMaxEventIdBytes, "event_ids");
    if (element) {
        FUZZ_CHECK(element->message.rfind("element " + std::to_string(position) + " of ", 0) == 0);
    }

    check_excerpt(bytes, small_limit);
    check_excerpt(bytes, 64);  // the default the messages use
    check_excerpt(bytes, mode);
    return 0;
}
