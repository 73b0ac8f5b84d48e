// The reading of SPI results and the kept plans of spi.hpp, shared by the
// extension's own statements, the inline trigger and the projection worker.
#include "spi.hpp"

namespace po::pg {

namespace {

// A non-NULL datum of a result as T.
template <typename T, typename Convert>
std::optional<T> as(const std::optional<Datum>& datum, Convert convert) {
    if (!datum) return std::nullopt;
    return static_cast<T>(convert(*datum));
}

}  // namespace

SpiResult SpiResult::last(const char* what) noexcept {
    SpiResult result;
    result.table_ = SPI_tuptable;
    result.rows_ = SPI_processed;
    result.what_ = what;
    return result;
}

void SpiResult::expect(int columns, uint64_t most) const {
    if (rows_ == 0) return;
    if (table_ == nullptr || table_->numvals < rows_ || rows_ > most || table_->tupdesc->natts != columns)
        unexpected();
}

void SpiResult::unexpected(uint64_t row, int column) const {
    std::string message = std::string("unexpected result of ") + what_;
    if (column != 0) message += ": no row " + std::to_string(row + 1) + " or column " + std::to_string(column);
    raise(Problem{"XX000", message, "", ""});
}

std::optional<Datum> SpiResult::datum_at(uint64_t row, int column) const {
    if (table_ == nullptr || row >= rows_ || row >= table_->numvals || column < 1 ||
        column > table_->tupdesc->natts)
        unexpected(row, column);
    struct Read {
        bool isnull;
        Datum value;
    };
    SPITupleTable* table = table_;
    const Read read = pg_call([table, row, column]() noexcept {
        Read out{true, 0};
        out.value = SPI_getbinval(table->vals[row], table->tupdesc, column, &out.isnull);
        return out;
    });
    if (read.isnull) return std::nullopt;
    return read.value;
}

std::optional<int64_t> SpiResult::int64_at(uint64_t row, int column) const {
    return as<int64_t>(datum_at(row, column), [](Datum d) { return DatumGetInt64(d); });
}

std::optional<int32_t> SpiResult::int32_at(uint64_t row, int column) const {
    return as<int32_t>(datum_at(row, column), [](Datum d) { return DatumGetInt32(d); });
}

std::optional<bool> SpiResult::bool_at(uint64_t row, int column) const {
    return as<bool>(datum_at(row, column), [](Datum d) { return DatumGetBool(d); });
}

std::optional<Oid> SpiResult::oid_at(uint64_t row, int column) const {
    return as<Oid>(datum_at(row, column), [](Datum d) { return DatumGetObjectId(d); });
}

std::optional<TimestampTz> SpiResult::timestamp_at(uint64_t row, int column) const {
    return as<TimestampTz>(datum_at(row, column), [](Datum d) { return DatumGetTimestampTz(d); });
}

std::optional<std::string> SpiResult::text_at(uint64_t row, int column) const {
    const std::optional<Datum> datum = datum_at(row, column);
    if (!datum) return std::nullopt;
    const Datum value = *datum;
    // Detoasting may allocate, and so raise an error.
    text* t = pg_call([value]() noexcept { return DatumGetTextPP(value); });
    return std::string(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

std::optional<Datum> SpiResult::datum_copy_at(uint64_t row, int column) const {
    const std::optional<Datum> datum = datum_at(row, column);
    if (!datum) return std::nullopt;
    const Datum value = *datum;
    TupleDesc desc = table_->tupdesc;
    return pg_call([value, desc, column]() noexcept {
        Form_pg_attribute att = TupleDescAttr(desc, column - 1);
        return datumCopy(value, att->attbyval, att->attlen);
    });
}

void SpiResult::free() {
    SPITupleTable* table = table_;
    table_ = nullptr;
    rows_ = 0;
    if (table) pg_call([table]() noexcept { SPI_freetuptable(table); });
}

void KeptPlan::prepare(const std::string& sql, int nargs, const Oid* types, const char* what, int expected) {
    reset();
    const char* text = sql.c_str();
    plan_ = pg_call([text, nargs, types]() noexcept {
        SPIPlanPtr plan = SPI_prepare(text, nargs, const_cast<Oid*>(types));
        if (plan == nullptr) elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
        if (SPI_keepplan(plan) != 0) elog(ERROR, "SPI_keepplan failed");
        return plan;
    });
    what_ = what;
    expected_ = expected;
}

void KeptPlan::reset() {
    SPIPlanPtr plan = release();
    if (plan != nullptr) pg_call([plan]() noexcept { SPI_freeplan(plan); });
}

SPIPlanPtr KeptPlan::release() {
    SPIPlanPtr plan = plan_;
    plan_ = nullptr;
    return plan;
}

SpiResult KeptPlan::run(const Datum* values, const char* nulls, long limit) const {
    // Copied first: a statement may call the extension again, which may
    // replace this plan while it runs.
    SPIPlanPtr plan = plan_;
    const char* what = what_;
    const int expected = expected_;
    return pg_call([=]() noexcept {
        const int rc = SPI_execute_plan(plan, const_cast<Datum*>(values), nulls, false, limit);
        if (expected == 0 ? rc < 0 : rc != expected)
            elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
        return SpiResult::last(what);
    });
}

SpiResult fetch(Portal portal, long count, const char* what) {
    return pg_call([portal, count, what]() noexcept {
        SPI_cursor_fetch(portal, true, count);
        return SpiResult::last(what);
    });
}

}  // namespace po::pg
