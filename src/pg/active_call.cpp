#include "active_call.hpp"

extern "C" {
#include "access/xact.h"
}

namespace po::pg {

namespace {

ActiveCalls registry;

void on_xact(XactEvent event, void*) {
    switch (event) {
        case XACT_EVENT_COMMIT:
        case XACT_EVENT_PARALLEL_COMMIT:
        case XACT_EVENT_ABORT:
        case XACT_EVENT_PARALLEL_ABORT:
        case XACT_EVENT_PREPARE: registry.clear(); break;
        default: break;
    }
}

void on_subxact(SubXactEvent event, SubTransactionId, SubTransactionId, void*) {
    // Called while the aborting subtransaction is still the current one.
    if (event == SUBXACT_EVENT_ABORT_SUB) registry.abort_level(GetCurrentTransactionNestLevel());
}

}  // namespace

ActiveCall::ActiveCall(int* counter) {
    const int level = pg_call([]() noexcept { return GetCurrentTransactionNestLevel(); });
    handle_ = registry.enter(level, counter);
}

ActiveCall::~ActiveCall() { registry.leave(handle_); }

void install_active_call_callbacks() {
    RegisterXactCallback(on_xact, nullptr);
    RegisterSubXactCallback(on_subxact, nullptr);
}

}  // namespace po::pg
