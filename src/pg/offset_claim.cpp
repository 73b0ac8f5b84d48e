// SQL entry points offset_claim(text, text, text) and offset_claim(text[], text).
#include <string>

#include "claim.hpp"
#include "counters.hpp"

namespace po::pg {

namespace {

TextArg hash_arg(FunctionCallInfo fcinfo, int n) {
    TextArg hash = text_arg(fcinfo, n);
    if (hash.view && hash.view->empty()) {
        raise(Problem{sqlstate::invalid_parameter_value, "payload_hash must not be empty", "",
                      "Pass NULL when the payload has no hash."});
    }
    return hash;
}

Datum claim(FunctionCallInfo fcinfo, const ClaimRequest& request) {
    SpiConnection spi(extension_namespace(fcinfo));
    bool recorded = claim_pair(spi, request);
    spi.finish();
    return BoolGetDatum(recorded);
}

// offset_claim(event_id, handler_name, payload_hash)
Datum offset_claim(FunctionCallInfo fcinfo) {
    OffsetKey key = key_args(fcinfo, 0, 1);
    return claim(fcinfo, ClaimRequest{key, hash_arg(fcinfo, 2), std::nullopt});
}

// offset_claim(event_id, handler_name, event_position, payload_hash)
Datum offset_claim_at(FunctionCallInfo fcinfo) {
    OffsetKey key = key_args(fcinfo, 0, 1);
    if (PG_ARGISNULL(2)) {
        raise(Problem{sqlstate::null_value_not_allowed, "event_position must not be null", "",
                      "Use offset_claim(event_id, handler_name) for events without a position."});
    }
    return claim(fcinfo, ClaimRequest{key, hash_arg(fcinfo, 3), PG_GETARG_INT64(2)});
}

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

Datum offset_claim_many(FunctionCallInfo fcinfo) {
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
    uint64_t rows = spi.execute(Statement::ClaimMany, values, nullptr);
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

PO_SQL_FUNCTION(po_offset_claim, po::pg::offset_claim)

PO_SQL_FUNCTION(po_offset_claim_at, po::pg::offset_claim_at)

PO_SQL_FUNCTION(po_offset_claim_many, po::pg::offset_claim_many)
