// SQL entry point offset_claim_batch(event_ids text[], handler_name text)
// RETURNS SETOF text: the ids this call recorded, in order of first appearance.
#include <string>

#include "../core/outcome.hpp"
#include "claim_pair.hpp"
#include "projection_offset_counters.hpp"

namespace po::pg {

namespace {

// Every element is checked before anything is written, so a bad element
// anywhere in the array records nothing. Returns the number of distinct ids.
uint64_t check_event_ids(ArrayType* ids) {
    if (ARR_NDIM(ids) > 1) {
        raise(
            Problem{sqlstate::invalid_parameter_value, "event_ids must be a one-dimensional array", "", ""});
    }
    Datum* elems = nullptr;
    bool* nulls = nullptr;
    int count = 0;
    pg_call(
        [&]() noexcept { deconstruct_array(ids, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &count); });
    std::unordered_set<std::string_view> distinct;
    for (int i = 0; i < count; ++i) {
        check_for_interrupts();
        SqlText value;
        if (!nulls[i]) {
            text* t = pg_call([&]() noexcept { return DatumGetTextPP(elems[i]); });
            value = text_view(t);
        }
        check(check_event_id_element(static_cast<size_t>(i) + 1, value));
        distinct.insert(*value);
    }
    return distinct.size();
}

// Puts each recorded id into the function's result, as the statement
// returns it.
class ResultSink : public RowSink {
public:
    explicit ResultSink(ReturnSetInfo* rsinfo) : rsinfo_(rsinfo) {}
    void row(const Datum* values, const bool* isnull) noexcept override {
        tuplestore_putvalues(rsinfo_->setResult, rsinfo_->setDesc, const_cast<Datum*>(values),
                             const_cast<bool*>(isnull));
    }

private:
    ReturnSetInfo* rsinfo_;
};

Datum offset_claim_batch(FunctionCallInfo fcinfo) {
    if (PG_ARGISNULL(0)) {
        raise(Problem{sqlstate::null_value_not_allowed, "event_ids must not be null", "", ""});
    }
    ArrayType* ids = pg_call([&]() noexcept { return PG_GETARG_ARRAYTYPE_P(0); });
    TextArg handler = text_arg(fcinfo, 1);
    check(check_handler_name(handler.view));
    const uint64_t distinct = check_event_ids(ids);

    pg_call([&]() noexcept { InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC); });
    auto* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);

    const Oid nsp = extension_namespace(fcinfo);
    SpiConnection spi(nsp);
    Datum values[2] = {PointerGetDatum(ids), handler.datum};
    ResultSink result(rsinfo);
    const uint64_t rows = spi.execute_into(Statement::ClaimBatchIds, values, nullptr, 1, result);
    // An id not recorded now conflicted with a stored row, unless a BEFORE
    // trigger skipped it: then every id must be stored (looked up with a
    // new snapshot, which sees rows that a concurrent transaction committed
    // meanwhile), or it would be reported as applied.
    if (rows < distinct && has_before_insert_trigger(nsp, "projection_offset")) {
        const SpiResult missing = spi.execute(Statement::MissingIds, values, nullptr, 1);
        if (missing.rows() > 0) {
            raise(write_skipped_problem("element " + std::to_string(missing.int64_at(0, 2).value_or(0)) +
                                            " of event_ids: " +
                                            offset_words(missing.text_at(0, 1).value_or(""), *handler.view),
                                        "projection_offset"));
        }
    }
    counters::add(*handler.view, {rows, distinct - rows, 0});
    spi.finish();
    return static_cast<Datum>(0);
}

}  // namespace

}  // namespace po::pg

PO_SQL_FUNCTION(po_offset_claim_batch, po::pg::offset_claim_batch)
// The symbol of offset_claim(text[], text), which the 1.0 and 1.1 install
// scripts name.
PO_SQL_FUNCTION(po_offset_claim_many, po::pg::offset_claim_batch)
