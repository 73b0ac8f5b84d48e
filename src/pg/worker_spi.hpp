// The projection worker's access to SQL: kept plans, results read one value
// at a time behind the guard, subtransactions, and running as a role.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "guard.hpp"

namespace po::pg::worker {

// A prepared statement whose plan is kept for the life of the worker. Its
// plan is revalidated by PostgreSQL when the objects it names change.
class KeptPlan {
public:
    KeptPlan() = default;
    KeptPlan(const KeptPlan&) = delete;
    KeptPlan& operator=(const KeptPlan&) = delete;
    ~KeptPlan();  // frees nothing: the worker frees plans with reset()

    bool ready() const { return plan_ != nullptr; }
    // Prepares and keeps the plan; must run while SPI is connected.
    void prepare(const std::string& sql, int nargs, const Oid* types);
    // Frees the kept plan (it must not be running).
    void reset();
    // Runs the plan; returns the number of rows.
    uint64_t run(const Datum* values, const char* nulls, long limit = 0) const;

private:
    SPIPlanPtr plan_ = nullptr;
};

// Values of the last result (rows are 0-based, columns 1-based). Each
// reader checks the row against the row count.
std::optional<std::string> text_at(uint64_t row, int column);
std::optional<int64_t> int64_at(uint64_t row, int column);
std::optional<int32_t> int32_at(uint64_t row, int column);
std::optional<TimestampTz> timestamp_at(uint64_t row, int column);
// A datum copied into the current memory context (which must outlive the
// use), or nullopt for NULL.
std::optional<Datum> datum_copy_at(uint64_t row, int column);

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
