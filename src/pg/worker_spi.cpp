#include "worker_spi.hpp"

namespace po::pg::worker {

Datum text_datum(const std::string& value) {
    const char* data = value.data();
    const int length = static_cast<int>(value.size());
    return pg_call([data, length]() noexcept { return PointerGetDatum(cstring_to_text_with_len(data, length)); });
}

SubtransactionMark begin_subtransaction() {
    return pg_call([]() noexcept {
        SubtransactionMark mark{CurrentMemoryContext, CurrentResourceOwner};
        BeginInternalSubTransaction(nullptr);
        // Statements keep running in the caller's context.
        MemoryContextSwitchTo(mark.context);
        return mark;
    });
}

void commit_subtransaction(const SubtransactionMark& mark) {
    pg_call([&mark]() noexcept {
        ReleaseCurrentSubTransaction();
        MemoryContextSwitchTo(mark.context);
        CurrentResourceOwner = mark.owner;
    });
}

void roll_back_subtransaction(const SubtransactionMark& mark) {
    pg_call([&mark]() noexcept {
        MemoryContextSwitchTo(mark.context);
        RollbackAndReleaseCurrentSubTransaction();
        MemoryContextSwitchTo(mark.context);
        CurrentResourceOwner = mark.owner;
    });
}

RunAs::RunAs(Oid role) {
    pg_call([this, role]() noexcept {
        if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(role)))
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT),
                            errmsg("role with OID %u of the handler does not exist", role)));
        GetUserIdAndSecContext(&saved_user_, &saved_context_);
        SetUserIdAndSecContext(role, saved_context_ | SECURITY_LOCAL_USERID_CHANGE);
    });
    active_ = true;
}

RunAs::~RunAs() {
    // On the error path the (sub)transaction's abort restores the role; the
    // destructor only covers a normal exit that skipped restore().
    if (active_ && std::uncaught_exceptions() == 0) restore();
}

void RunAs::restore() {
    if (!active_) return;
    active_ = false;
    const Oid user = saved_user_;
    const int context = saved_context_;
    pg_call([user, context]() noexcept { SetUserIdAndSecContext(user, context); });
}

}  // namespace po::pg::worker
