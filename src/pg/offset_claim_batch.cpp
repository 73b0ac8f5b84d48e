// SQL entry point offset_claim_batch(event_ids text[], handler_name text)
// RETURNS SETOF text: the ids this call recorded, in order of first appearance.
#include <string>

#include "claim_pair.hpp"
#include "projection_offset_counters.hpp"

namespace po::pg {

namespace {

// Every element is checked before anything is written, so a bad element
// anywhere in the array records nothing. Returns the number of distinct ids.
uint64_t check_event_ids(ArrayType* ids) {
    if (ARR_NDIM(ids) > 1) {
        raise(Problem{sqlstate::invalid_parameter_value,
                      "event_ids must be a one-dimensional array", "", ""});
    }
    Datum* elems = nullptr;
    bool* nulls = nullptr;
    int count = 0;
    pg_call([&]() noexcept {
        deconstruct_array(ids, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &count);
    });
    std::unordered_set<std::string_view> distinct;
    for (int i = 0; i < count; ++i) {
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

    SpiConnection spi(extension_namespace(fcinfo));
    Datum values[2] = {PointerGetDatum(ids), handler.datum};
    uint64_t rows = spi.execute(Statement::ClaimBatchIds, values, nullptr);
    counters::add(*handler.view, {rows, distinct - rows, 0});
    pg_call([&]() noexcept {
        for (uint64 row = 0; row < rows; ++row) {
            bool isnull = false;
            Datum id = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, 1, &isnull);
            tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &id, &isnull);
        }
    });
    spi.finish();
    return static_cast<Datum>(0);
}

}  // namespace

}  // namespace po::pg

PO_SQL_FUNCTION(po_offset_claim_batch, po::pg::offset_claim_batch)
// The symbol of offset_claim(text[], text), which the 1.0 and 1.1 install
// scripts name.
PO_SQL_FUNCTION(po_offset_claim_many, po::pg::offset_claim_batch)
