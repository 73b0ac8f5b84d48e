// check_event_entry and plan_batch (the batch apply_with_offset, minus the
// database) on entries and batches built from arbitrary bytes, against a
// straightforward model of their contract.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <deque>
#include <string>

#include "core/batch.hpp"
#include "fuzz_check.hpp"

using namespace po;

namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
    return s.compare(0, prefix.size(), prefix) == 0;
}

void fuzz_entry(FuzzedDataProvider& in) {
    EventEntry entry;
    entry.is_object = in.ConsumeBool();
    entry.id_kind = static_cast<JsonKind>(in.ConsumeIntegralInRange<int>(0, 4));
    entry.position_kind = static_cast<JsonKind>(in.ConsumeIntegralInRange<int>(0, 4));
    const std::size_t position = in.ConsumeIntegral<std::size_t>();
    const std::string id = in.ConsumeRandomLengthString(2100);
    entry.id = id;

    const auto problem = check_event_entry(position, entry);
    const std::string where = "element " + std::to_string(position) + " of events";
    const bool position_ok = entry.position_kind == JsonKind::Missing ||
                             entry.position_kind == JsonKind::Null ||
                             entry.position_kind == JsonKind::Number;
    if (!entry.is_object || entry.id_kind != JsonKind::String || !position_ok) {
        FUZZ_CHECK(problem);
        if (!entry.is_object || entry.id_kind != JsonKind::Null) {
            FUZZ_CHECK(problem->sqlstate == "22023");
        } else {
            FUZZ_CHECK(problem->sqlstate == "22004");
        }
    } else if (id.empty()) {
        FUZZ_CHECK(problem && problem->sqlstate == "22023");
    } else if (id.size() > kMaxEventIdBytes) {
        FUZZ_CHECK(problem && problem->sqlstate == "22001");
    } else {
        FUZZ_CHECK(!problem);
        return;
    }
    FUZZ_CHECK(starts_with(problem->message, where));
    // The message names the element, never quotes the id.
    FUZZ_CHECK(problem->message.size() <= where.size() + 64);
    FUZZ_CHECK(problem->message.back() != '.');
}

void fuzz_plan(FuzzedDataProvider& in) {
    // Ids and hashes come from small alphabets so that repeats, stored and
    // recorded ids and equal or different hashes all occur often.
    std::deque<std::string> storage;  // stable addresses for the views
    auto small = [&](std::size_t max_len) -> std::string_view {
        storage.push_back(in.ConsumeRandomLengthString(max_len));
        return storage.back();
    };
    const std::string_view handler = small(300);
    const std::size_t count = in.ConsumeIntegralInRange<std::size_t>(0, 64);
    std::vector<BatchEvent> events;
    for (std::size_t i = 0; i < count && in.remaining_bytes() > 0; ++i) {
        BatchEvent e;
        e.id = small(4);
        if (in.ConsumeBool()) e.hash = small(3);
        events.push_back(e);
    }
    std::unordered_map<std::string_view, SqlText> stored;
    std::unordered_set<std::string_view> recorded;
    for (const BatchEvent& e : events) {
        switch (in.ConsumeIntegralInRange<int>(0, 3)) {
            case 0: break;
            case 1: stored.emplace(e.id, SqlText{}); break;
            case 2: stored.emplace(e.id, small(3)); break;
            case 3: stored.emplace(e.id, e.hash); recorded.insert(e.id); break;
        }
        if (in.ConsumeBool() && in.ConsumeBool()) recorded.insert(e.id);
    }

    const auto verdict = plan_batch(events, stored, recorded, handler);

    // The model: the first event whose hash differs from the stored one is a
    // divergence; otherwise the first occurrence of every recorded id, in order.
    std::optional<std::size_t> divergent;
    std::vector<std::size_t> expected;
    std::unordered_set<std::string_view> seen;
    for (std::size_t i = 0; i < events.size(); ++i) {
        auto s = stored.find(events[i].id);
        if (s != stored.end() && s->second && events[i].hash && *s->second != *events[i].hash) {
            divergent = i;
            break;
        }
        if (recorded.count(events[i].id) && seen.insert(events[i].id).second) expected.push_back(i);
    }
    if (divergent) {
        const Problem* p = std::get_if<Problem>(&verdict);
        FUZZ_CHECK(p);
        FUZZ_CHECK(p->sqlstate == "PJ001");
        FUZZ_CHECK(starts_with(p->message, "element " + std::to_string(*divergent + 1) + " of events: "));
        FUZZ_CHECK(p->detail.find(std::string(*events[*divergent].hash)) != std::string::npos);
        return;
    }
    const auto* plan = std::get_if<std::vector<std::size_t>>(&verdict);
    FUZZ_CHECK(plan);
    FUZZ_CHECK(*plan == expected);
    for (std::size_t k = 0; k < plan->size(); ++k) {
        FUZZ_CHECK((*plan)[k] < events.size());
        if (k > 0) FUZZ_CHECK((*plan)[k - 1] < (*plan)[k]);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FuzzedDataProvider in(data, size);
    if (in.ConsumeBool()) {
        fuzz_entry(in);
    } else {
        fuzz_plan(in);
    }
    return 0;
}
