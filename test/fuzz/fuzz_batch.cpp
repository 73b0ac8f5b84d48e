// check_event_entry, BatchIds and BatchOutcome (the batch apply_with_offset,
// minus the database) on entries, ids and statement rows built from
// arbitrary bytes, against a straightforward model of their contract.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/batch.hpp"
#include "core/batch_ids.hpp"
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
                             entry.position_kind == JsonKind::Null || entry.position_kind == JsonKind::Number;
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

void fuzz_outcome(FuzzedDataProvider& in) {
    // Rows as the claim and check statements might send them, in any
    // order, including ordinals out of range and repeated recordings,
    // against a model of what BatchOutcome must conclude.
    const std::size_t events = in.ConsumeIntegralInRange<std::size_t>(0, 64);
    BatchOutcome outcome(events);
    std::vector<int> recorded(events + 2, 0), below(events + 2, 0), missing(events + 2, 0),
        positioned(events + 2, 0);
    std::uint64_t distinct = 0;
    bool bad = false;
    int summaries = 0;
    std::optional<std::size_t> divergent;
    auto in_range = [&](std::uint64_t o) { return o >= 1 && o <= events; };
    while (in.remaining_bytes() > 0) {
        const std::uint64_t ordinal = in.ConsumeIntegralInRange<std::uint64_t>(0, events + 1);
        switch (in.ConsumeIntegralInRange<int>(0, 6)) {
            case 0:
                outcome.has_position(ordinal);
                if (in_range(ordinal))
                    positioned[ordinal] = 1;
                else
                    bad = true;
                break;
            case 1:
                outcome.recorded(ordinal);
                if (!in_range(ordinal) || recorded[ordinal])
                    bad = true;
                else
                    recorded[ordinal] = 1;
                break;
            case 2:
                outcome.below_checkpoint(ordinal);
                if (in_range(ordinal))
                    below[ordinal] = 1;
                else
                    bad = true;
                break;
            case 3:
                outcome.missing(ordinal);
                if (in_range(ordinal))
                    missing[ordinal] = 1;
                else
                    bad = true;
                break;
            case 4: {
                const bool earliest = outcome.divergent(ordinal);
                if (!in_range(ordinal)) {
                    bad = true;
                    FUZZ_CHECK(!earliest);
                } else {
                    const bool expect = !divergent || ordinal < *divergent;
                    FUZZ_CHECK(earliest == expect);
                    if (expect) divergent = ordinal;
                }
                break;
            }
            case 5:
                outcome.distinct(ordinal);
                distinct = ordinal;
                ++summaries;
                break;
            case 6:
                outcome.positions(ordinal);
                FUZZ_CHECK(outcome.positions_recorded() == ordinal);
                break;
        }
    }
    FUZZ_CHECK(outcome.consistent() == (!bad && summaries == 1));
    if (bad) return;
    std::size_t recorded_count = 0, positions_expected = 0;
    std::optional<std::size_t> first_missing;
    for (std::size_t o = 1; o <= events; ++o) {
        recorded_count += recorded[o];
        positions_expected += recorded[o] && positioned[o];
        if (!first_missing && missing[o] && !below[o]) first_missing = o;
        FUZZ_CHECK(outcome.is_recorded(o) == (recorded[o] == 1));
    }
    FUZZ_CHECK(outcome.recorded_count() == recorded_count);
    FUZZ_CHECK(outcome.all_recorded() == (recorded_count == events));
    FUZZ_CHECK(outcome.positions_expected() == positions_expected);
    FUZZ_CHECK(outcome.first_missing() == first_missing);
    FUZZ_CHECK(outcome.first_divergent() == divergent);
    (void)distinct;
}

void no_check() {}

void fuzz_ids(FuzzedDataProvider& in) {
    // Arbitrary ids (repeats likely: short, from a small alphabet or not),
    // against a model: the ordered map of each id's ordinals.
    const std::size_t events = in.ConsumeIntegralInRange<std::size_t>(0, 200);
    const bool narrow = in.ConsumeBool();
    std::vector<std::string> ids;
    std::map<std::string, std::vector<std::uint32_t>> model;  // std::string compares bytes as unsigned
    for (std::size_t i = 0; i < events && in.remaining_bytes() > 0; ++i) {
        std::string id = in.ConsumeRandomLengthString(narrow ? 3 : 40);
        if (narrow) {
            for (char& c : id) c = static_cast<char>('a' + static_cast<unsigned char>(c) % 3);
        }
        ids.push_back(id);
    }
    BatchIds batch(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
        batch.add(ids[i], static_cast<std::uint32_t>(i + 1));
        model[ids[i]].push_back(static_cast<std::uint32_t>(i + 1));
    }
    batch.sort(no_check);
    FUZZ_CHECK(batch.groups() == model.size());
    std::size_t g = 0;
    for (const auto& [id, ordinals] : model) {
        FUZZ_CHECK(batch.id(g) == id);
        FUZZ_CHECK(batch.occurrences(g) == ordinals.size());
        for (std::size_t k = 0; k < ordinals.size(); ++k) FUZZ_CHECK(batch.occurrence(g, k) == ordinals[k]);
        FUZZ_CHECK(batch.find(id, 0, batch.groups()) == g);
        FUZZ_CHECK(!batch.find(id, g + 1, batch.groups()));
        FUZZ_CHECK(!batch.find(id + '\x01', 0, batch.groups()) || model.count(id + '\x01'));
        ++g;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FuzzedDataProvider in(data, size);
    switch (in.ConsumeIntegralInRange<int>(0, 2)) {
        case 0: fuzz_entry(in); break;
        case 1: fuzz_outcome(in); break;
        default: fuzz_ids(in); break;
    }
    return 0;
}
