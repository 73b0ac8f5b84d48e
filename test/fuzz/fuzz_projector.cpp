// classify_projector on routine shapes built from arbitrary bytes.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <string>

#include "core/projector_shape.hpp"
#include "fuzz_check.hpp"

using namespace po;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FuzzedDataProvider in(data, size);
    RoutineShape shape;
    shape.kind = static_cast<RoutineKind>(in.ConsumeIntegralInRange<int>(0, 3));
    shape.returns_set = in.ConsumeBool();
    // PostgreSQL allows at most 100 arguments; go a little beyond.
    const std::size_t nargs = in.ConsumeIntegralInRange<std::size_t>(0, 110);
    for (std::size_t i = 0; i < nargs && in.remaining_bytes() > 0; ++i)
        shape.args.push_back(static_cast<ArgType>(in.ConsumeIntegralInRange<int>(0, 4)));
    const bool batch = in.ConsumeBool();
    shape.display_name = in.ConsumeRemainingBytesAsString();

    const auto verdict = classify_projector(shape, batch);
    const bool plain = shape.kind == RoutineKind::Function && !shape.returns_set;
    const bool payload_only = shape.args.size() == 1 && shape.args[0] == ArgType::Jsonb;
    const bool event_and_payload =
        shape.args.size() == 2 && shape.args[0] == ArgType::Text && shape.args[1] == ArgType::Jsonb;
    const bool set_projector =
        shape.args.size() == 2 && shape.args[0] == ArgType::TextArray && shape.args[1] == ArgType::JsonbArray;

    if (const auto* form = std::get_if<CallForm>(&verdict)) {
        FUZZ_CHECK(plain);
        FUZZ_CHECK(payload_only || event_and_payload || (batch && set_projector));
        FUZZ_CHECK(*form == (payload_only        ? CallForm::Payload
                             : event_and_payload ? CallForm::EventAndPayload
                                                 : CallForm::Batch));
        FUZZ_CHECK(static_cast<std::size_t>(arg_count(*form)) == shape.args.size());
        return 0;
    }
    const Problem& p = std::get<Problem>(verdict);
    if (!plain) {
        FUZZ_CHECK(p.sqlstate == "42809");
    } else {
        FUZZ_CHECK(!payload_only && !event_and_payload && !(batch && set_projector));
        FUZZ_CHECK(p.sqlstate == "42804");
    }
    FUZZ_CHECK(p.message.find(shape.display_name) != std::string::npos);
    FUZZ_CHECK(p.message.back() != '.');
    FUZZ_CHECK(!p.detail.empty() || !p.hint.empty());
    return 0;
}
