#include "active_calls.hpp"

namespace po {

std::size_t ActiveCalls::enter(int level, int* counter) {
    const std::size_t handle = entries_.size();
    entries_.push_back(Entry{level, counter});
    ++*counter;
    return handle;
}

void ActiveCalls::leave(std::size_t handle) noexcept {
    if (handle < entries_.size()) truncate(handle);
}

void ActiveCalls::abort_level(int level) noexcept {
    // Calls nest, so levels never decrease along the vector: the entries of
    // the aborted level and deeper ones are a suffix.
    std::size_t keep = entries_.size();
    while (keep > 0 && entries_[keep - 1].level >= level) --keep;
    truncate(keep);
}

void ActiveCalls::truncate(std::size_t size) noexcept {
    while (entries_.size() > size) {
        --*entries_.back().counter;
        entries_.pop_back();
    }
}

}  // namespace po
