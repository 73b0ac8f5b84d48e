// classify_existing and divergence_problem on arbitrary hashes and keys.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <string>

#include "core/outcome.hpp"
#include "fuzz_check.hpp"

using namespace po;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FuzzedDataProvider in(data, size);
    const uint8_t nulls = in.ConsumeIntegral<uint8_t>();
    const std::string stored = in.ConsumeRandomLengthString(200);
    const std::string given = (nulls & 4) ? stored : in.ConsumeRandomLengthString(200);
    const std::string event_id = in.ConsumeRandomLengthString(2048);
    const std::string handler = in.ConsumeRemainingBytesAsString();

    const SqlText stored_hash = (nulls & 1) ? SqlText{} : SqlText{stored};
    const SqlText given_hash = (nulls & 2) ? SqlText{} : SqlText{given};

    const ClaimOutcome outcome = classify_existing(stored_hash, given_hash);
    // A claim that found the pair recorded is never "Recorded".
    FUZZ_CHECK(outcome != ClaimOutcome::Recorded);
    const bool diverges = stored_hash && given_hash && *stored_hash != *given_hash;
    FUZZ_CHECK((outcome == ClaimOutcome::Divergent) == diverges);
    // Symmetric: which side is stored does not matter.
    FUZZ_CHECK(classify_existing(given_hash, stored_hash) == outcome);

    const Problem p = divergence_problem(event_id, handler, stored, given);
    FUZZ_CHECK(p.sqlstate == "PJ001");
    FUZZ_CHECK(p.message.back() != '.');
    // Keys are shown as bounded excerpts, so a message stays short whatever
    // the id; the hashes are shown in the detail, whole up to
    // kMaxHashInMessage bytes.
    FUZZ_CHECK(p.message.find(excerpt(event_id)) != std::string::npos);
    FUZZ_CHECK(p.message.find(excerpt(handler)) != std::string::npos);
    FUZZ_CHECK(p.message.size() <= 2 * (64 + 3) + 80);
    FUZZ_CHECK(p.detail.find(excerpt(stored, kMaxHashInMessage)) != std::string::npos);
    FUZZ_CHECK(p.detail.find(excerpt(given, kMaxHashInMessage)) != std::string::npos);
    if (stored.size() <= kMaxHashInMessage) FUZZ_CHECK(p.detail.find(stored) != std::string::npos);
    FUZZ_CHECK(p.detail.size() <= 2 * (kMaxHashInMessage + 3) + 64);
    FUZZ_CHECK(!p.hint.empty());
    if (fuzz::valid_utf8(event_id) && fuzz::valid_utf8(handler)) {
        FUZZ_CHECK(fuzz::valid_utf8(p.message));
    }
    return 0;
}
