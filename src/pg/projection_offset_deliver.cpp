// SQL entry point _projection_offset_deliver(projector regprocedure,
// event_id text, payload jsonb) RETURNS void, through which the idempotency
// harness calls the projector under test. The call is by OID: a call by
// name could resolve to another overload of the same name, or fail as not
// unique when an overload has defaults.
#include "projector.hpp"

namespace po::pg {

namespace {

Datum deliver(FunctionCallInfo fcinfo) {
    const Projector& projector = projector_arg(fcinfo, 0);
    if (projector.form != CallForm::EventAndPayload) {
        raise(Problem{sqlstate::datatype_mismatch,
                      "projector " + projector.name + " must be a function taking (text, jsonb)", "",
                      "The harness delivers (event_id, payload) to a projector that claims its own offset."});
    }
    TextArg event_id = text_arg(fcinfo, 1);
    check(check_event_id("event_id", event_id.view));
    const bool payload_isnull = PG_ARGISNULL(2);
    // As a call in SQL would: a strict function is not called with a NULL
    // argument (the harness then reports the offset it did not leave).
    if (payload_isnull && projector.strict) return static_cast<Datum>(0);
    call_projector_delivery(projector, event_id.datum, *event_id.view,
                            payload_isnull ? 0 : PG_GETARG_DATUM(2), payload_isnull);
    return static_cast<Datum>(0);
}

}  // namespace

}  // namespace po::pg

PO_SQL_FUNCTION(po_projection_offset_deliver, po::pg::deliver)
