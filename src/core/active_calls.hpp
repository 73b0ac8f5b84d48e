// Counts of calls in progress ("how many of our statements are executing",
// "how many projector calls are running") that stay right even when a call
// never returns normally.
//
// A call registers itself with the transaction nesting level it runs at.
// It normally leaves in LIFO order; if its frame is abandoned instead (an
// error that skipped it), the entry is dropped when the subtransaction it
// ran in aborts, or when the top-level transaction ends, since no call of
// ours outlives either. Each entry holds the counter it raised, which is
// lowered again whichever way the entry goes.
#pragma once

#include <cstddef>
#include <vector>

namespace po {

class ActiveCalls {
public:
    ActiveCalls() { entries_.reserve(64); }
    ActiveCalls(const ActiveCalls&) = delete;
    ActiveCalls& operator=(const ActiveCalls&) = delete;

    // Registers a call at nesting level `level` and raises *counter.
    // Returns the handle to pass to leave(). May throw std::bad_alloc, in
    // which case nothing is registered and *counter is unchanged.
    std::size_t enter(int level, int* counter);

    // The call registered as `handle` is over: it and any entry registered
    // after it (abandoned calls nested inside it) are dropped. Leaving an
    // entry already dropped does nothing.
    void leave(std::size_t handle) noexcept;

    // The subtransaction at nesting level `level` aborted: the calls
    // registered at that level or deeper are gone.
    void abort_level(int level) noexcept;

    // The top-level transaction ended: no call is running.
    void clear() noexcept { truncate(0); }

    std::size_t size() const noexcept { return entries_.size(); }

private:
    struct Entry {
        int level;
        int* counter;
    };
    void truncate(std::size_t size) noexcept;
    std::vector<Entry> entries_;
};

}  // namespace po
