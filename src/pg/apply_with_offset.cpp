// SQL entry points apply_with_offset(event_id text, handler_name text,
// projector regprocedure | text, payload jsonb DEFAULT NULL) RETURNS boolean.
#include "claim_pair.hpp"
#include "payload_hash.hpp"
#include "projector.hpp"

namespace po::pg {

namespace {

Datum apply_with_offset(FunctionCallInfo fcinfo, ProjectorGiven given) {
    OffsetKey key = key_args(fcinfo, 0, 1);
    const Projector& resolved = projector_arg(fcinfo, 2, false, given);
    const bool payload_isnull = PG_ARGISNULL(3);
    check_strict_payload(resolved, payload_isnull, "payload must not be null");
    Datum payload = payload_isnull ? 0 : PG_GETARG_DATUM(3);
    TextArg hash;
    if (!payload_isnull) {
        hash.datum = payload_hash(payload);
        hash.view = text_view(reinterpret_cast<text*>(DatumGetPointer(hash.datum)));
    }

    const Oid nsp = extension_namespace(fcinfo);
    SpiConnection spi(nsp);
    bool recorded = claim_pair(spi, nsp, ClaimRequest{key, hash, std::nullopt});
    spi.finish();
    if (!recorded) return BoolGetDatum(false);

    // Triggers on the offset table may have changed the function meanwhile.
    const Projector& projector = current_projector(resolved, false);
    check_strict_payload(projector, payload_isnull, "payload must not be null");
    call_projector(projector, key, payload, payload_isnull);
    return BoolGetDatum(true);
}

Datum apply_with_offset_oid(FunctionCallInfo fcinfo) {
    return apply_with_offset(fcinfo, ProjectorGiven::Oid);
}
Datum apply_with_offset_text(FunctionCallInfo fcinfo) {
    return apply_with_offset(fcinfo, ProjectorGiven::Text);
}

}  // namespace

}  // namespace po::pg

PO_SQL_FUNCTION(po_apply_with_offset, po::pg::apply_with_offset_oid)
PO_SQL_FUNCTION(po_apply_with_offset_by_name, po::pg::apply_with_offset_text)
