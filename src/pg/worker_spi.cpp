#include "worker_spi.hpp"

extern "C" {
#include "utils/datum.h"
}

namespace po::pg::worker {

namespace {

Datum value_at(uint64_t row, int column, bool* isnull) {
    return pg_call([row, column, isnull]() noexcept {
        if (SPI_tuptable == nullptr || row >= SPI_processed || column < 1 || column > SPI_tuptable->tupdesc->natts)
            elog(ERROR, "projection worker: no row %llu, column %d in the result", (unsigned long long)row,
                 column);
        return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, column, isnull);
    });
}

}  // namespace

KeptPlan::~KeptPlan() = default;

void KeptPlan::prepare(const std::string& sql, int nargs, const Oid* types) {
    reset();
    const char* text = sql.c_str();
    plan_ = pg_call([text, nargs, types]() noexcept {
        SPIPlanPtr plan = SPI_prepare(text, nargs, const_cast<Oid*>(types));
        if (plan == nullptr) elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
        if (SPI_keepplan(plan) != 0) elog(ERROR, "SPI_keepplan failed");
        return plan;
    });
}

void KeptPlan::reset() {
    if (plan_ == nullptr) return;
    SPIPlanPtr plan = plan_;
    plan_ = nullptr;
    pg_call([plan]() noexcept { SPI_freeplan(plan); });
}

uint64_t KeptPlan::run(const Datum* values, const char* nulls, long limit) const {
    SPIPlanPtr plan = plan_;
    return pg_call([plan, values, nulls, limit]() noexcept {
        const int rc = SPI_execute_plan(plan, const_cast<Datum*>(values), nulls, false, limit);
        if (rc < 0) elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
        return static_cast<uint64_t>(SPI_processed);
    });
}

std::optional<std::string> text_at(uint64_t row, int column) {
    bool isnull = false;
    const Datum value = value_at(row, column, &isnull);
    if (isnull) return std::nullopt;
    // The copy is made in the current (SPI) context and read at once.
    const char* copy = pg_call([value]() noexcept -> const char* { return TextDatumGetCString(value); });
    return std::string(copy);
}

std::optional<int64_t> int64_at(uint64_t row, int column) {
    bool isnull = false;
    const Datum value = value_at(row, column, &isnull);
    if (isnull) return std::nullopt;
    return static_cast<int64_t>(DatumGetInt64(value));
}

std::optional<int32_t> int32_at(uint64_t row, int column) {
    bool isnull = false;
    const Datum value = value_at(row, column, &isnull);
    if (isnull) return std::nullopt;
    return static_cast<int32_t>(DatumGetInt32(value));
}

std::optional<TimestampTz> timestamp_at(uint64_t row, int column) {
    bool isnull = false;
    const Datum value = value_at(row, column, &isnull);
    if (isnull) return std::nullopt;
    return DatumGetTimestampTz(value);
}

std::optional<Datum> datum_copy_at(uint64_t row, int column) {
    bool isnull = false;
    const Datum value = value_at(row, column, &isnull);
    if (isnull) return std::nullopt;
    return pg_call([value, column]() noexcept {
        Form_pg_attribute att = TupleDescAttr(SPI_tuptable->tupdesc, column - 1);
        return datumCopy(value, att->attbyval, att->attlen);
    });
}

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
