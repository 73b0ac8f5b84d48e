// The event ids of a batch, sorted by their bytes (the order of COLLATE
// "C"), so that the claim inserts them in one lock order whatever their
// order in the batch (two batches sharing ids then wait on each other
// instead of deadlocking), repeats inside the batch are found without the
// database, and ids the database returns map back to their events.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace po {

class BatchIds {
public:
    // May throw std::bad_alloc.
    explicit BatchIds(std::size_t events);

    // The id of the event at `ordinal` (1-based). The bytes are not copied:
    // they must outlive this object.
    void add(std::string_view id, std::uint32_t ordinal);

    // Sorts and groups the ids. `check` runs every few thousand comparisons
    // and may throw to abandon the sort.
    void sort(void (*check)());

    // Distinct ids, in sorted order; group g's occurrences are
    // occurrence(g, 0 .. occurrences(g) - 1), in ordinal order.
    std::size_t groups() const { return starts_.empty() ? 0 : starts_.size() - 1; }
    std::string_view id(std::size_t group) const { return view(entries_[starts_[group]]); }
    std::size_t occurrences(std::size_t group) const { return starts_[group + 1] - starts_[group]; }
    std::uint32_t occurrence(std::size_t group, std::size_t k) const {
        return entries_[starts_[group] + k].ordinal;
    }

    // Frees the ids' memory (16 bytes an event and 4 a distinct id) once
    // the claim is done, so that it does not add up with what the
    // projector then uses.
    void release() {
        std::vector<Entry>().swap(entries_);
        std::vector<std::uint32_t>().swap(starts_);
    }

    // The group of `id` among groups [begin, end), by binary search. Neither
    // allocates nor throws: it runs inside the executor.
    std::optional<std::size_t> find(std::string_view id, std::size_t begin, std::size_t end) const noexcept;

private:
    struct Entry {
        const char* data;
        std::uint32_t length;
        std::uint32_t ordinal;
    };
    static std::string_view view(const Entry& e) { return std::string_view(e.data, e.length); }

    std::vector<Entry> entries_;
    std::vector<std::uint32_t> starts_;  // first entry of each group, then entries_.size()
};

// Bytewise comparison, shorter first on a common prefix: the order of
// text under COLLATE "C".
int compare_bytes(std::string_view a, std::string_view b) noexcept;

}  // namespace po
