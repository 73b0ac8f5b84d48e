// The projection worker's access to SQL beyond spi.hpp: text parameters,
// subtransactions, and running as a role.
#pragma once

#include <string>

#include "guard.hpp"

namespace po::pg::worker {

// A text datum made in the current memory context.
Datum text_datum(const std::string& value);

// Runs fn inside a subtransaction. Returns the PostgreSQL error that ended
// it (after rolling it back), or nullptr when it committed. C++ exceptions
// other than PgError roll the subtransaction back and propagate.
template <typename Fn>
ErrorData* in_subtransaction(Fn&& fn);

// Begins/ends a subtransaction, keeping the caller's memory context and
// resource owner current (the pattern of PL/pgSQL's exception blocks).
struct SubtransactionMark {
    MemoryContext context;
    ResourceOwner owner;
};
SubtransactionMark begin_subtransaction();
void commit_subtransaction(const SubtransactionMark& mark);
void roll_back_subtransaction(const SubtransactionMark& mark);

template <typename Fn>
ErrorData* in_subtransaction(Fn&& fn) {
    const SubtransactionMark mark = begin_subtransaction();
    try {
        fn();
    } catch (const PgError& e) {
        roll_back_subtransaction(mark);
        return e.data();
    } catch (...) {
        roll_back_subtransaction(mark);
        throw;
    }
    commit_subtransaction(mark);
    return nullptr;
}

// Runs the statements of a handler as its role, within the current
// (sub)transaction: the role's privileges apply, and SET ROLE and SET
// SESSION AUTHORIZATION are refused, as in a SECURITY DEFINER function.
// The previous role comes back at the end of the scope, or with the
// (sub)transaction's abort on an error.
class RunAs {
public:
    explicit RunAs(Oid role);
    RunAs(const RunAs&) = delete;
    RunAs& operator=(const RunAs&) = delete;
    ~RunAs();
    void restore();

private:
    Oid saved_user_ = InvalidOid;
    int saved_context_ = 0;
    bool active_ = false;
};

}  // namespace po::pg::worker
