// SQL entry points apply_with_offset(event_id text, handler_name text,
// projector regprocedure | text, payload jsonb DEFAULT NULL) RETURNS boolean.
#include "claim_pair.hpp"
#include "payload_hash.hpp"
#include "projector.hpp"

namespace po::pg {

namespace {

Datum apply_with_offset(FunctionCallInfo fcinfo, ProjectorGiven given) {
    OffsetKey key = key_args(fcinfo, 0, 1);
    const Projector& projector = projector_arg(fcinfo, 2, false, given);
    const bool payload_isnull = PG_ARGISNULL(3);
    if (payload_isnull && projector.strict) {
        raise(Problem{sqlstate::null_value_not_allowed,
                      "payload must not be null for strict projector " + projector.name,
                      "A strict function is not called with a null argument, so the event would "
                      "be recorded without being applied.",
                      ""});
    }
    Datum payload = payload_isnull ? 0 : PG_GETARG_DATUM(3);
    TextArg hash;
    if (!payload_isnull) {
        hash.datum = payload_hash(payload);
        hash.view = text_view(reinterpret_cast<text*>(DatumGetPointer(hash.datum)));
    }

    SpiConnection spi(extension_namespace(fcinfo));
    bool recorded = claim_pair(spi, ClaimRequest{key, hash, std::nullopt});
    spi.finish();
    if (!recorded) return BoolGetDatum(false);

    call_projector(projector, key, payload, payload_isnull);
    return BoolGetDatum(true);
}

Datum apply_with_offset_oid(FunctionCallInfo fcinfo) { return apply_with_offset(fcinfo, ProjectorGiven::Oid); }
Datum apply_with_offset_text(FunctionCallInfo fcinfo) { return apply_with_offset(fcinfo, ProjectorGiven::Text); }

}  // namespace

}  // namespace po::pg

PO_SQL_FUNCTION(po_apply_with_offset, po::pg::apply_with_offset_oid)
PO_SQL_FUNCTION(po_apply_with_offset_by_name, po::pg::apply_with_offset_text)
