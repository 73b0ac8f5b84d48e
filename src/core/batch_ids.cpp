#include "batch_ids.hpp"

#include <algorithm>
#include <cstring>

namespace po {

int compare_bytes(std::string_view a, std::string_view b) noexcept {
    const std::size_t common = std::min(a.size(), b.size());
    const int c = common == 0 ? 0 : std::memcmp(a.data(), b.data(), common);
    if (c != 0) return c;
    return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

BatchIds::BatchIds(std::size_t events) { entries_.reserve(events); }

void BatchIds::add(std::string_view id, std::uint32_t ordinal) {
    entries_.push_back(Entry{id.data(), static_cast<std::uint32_t>(id.size()), ordinal});
}

void BatchIds::sort(void (*check)()) {
    std::uint32_t comparisons = 0;
    std::sort(entries_.begin(), entries_.end(), [&](const Entry& a, const Entry& b) {
        if ((++comparisons & 0xFFF) == 0) check();
        const int c = compare_bytes(view(a), view(b));
        return c != 0 ? c < 0 : a.ordinal < b.ordinal;
    });
    starts_.clear();
    for (std::size_t i = 0; i < entries_.size(); ++i) {
        if ((i & 0xFFF) == 0xFFF) check();
        if (i == 0 || view(entries_[i]) != view(entries_[i - 1]))
            starts_.push_back(static_cast<std::uint32_t>(i));
    }
    starts_.push_back(static_cast<std::uint32_t>(entries_.size()));
}

std::optional<std::size_t> BatchIds::find(std::string_view id, std::size_t begin,
                                          std::size_t end) const noexcept {
    while (begin < end) {
        const std::size_t middle = begin + (end - begin) / 2;
        const int c = compare_bytes(this->id(middle), id);
        if (c == 0) return middle;
        if (c < 0) {
            begin = middle + 1;
        } else {
            end = middle;
        }
    }
    return std::nullopt;
}

}  // namespace po
