// _projection_offset_wake(): the statement trigger on an async handler's
// source. It only notes that this transaction appended events; the worker
// is woken when the transaction ends (see worker_shmem.cpp).
#include "worker_shmem.hpp"

namespace {

Datum wake(FunctionCallInfo fcinfo) {
    po::pg::pg_call([fcinfo]() noexcept {
        if (!CALLED_AS_TRIGGER(fcinfo))
            ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
                            errmsg("_projection_offset_wake() must be called as a trigger")));
    });
    po::pg::worker_wake_at_transaction_end();
    return PointerGetDatum(nullptr);
}

}  // namespace

PO_SQL_FUNCTION(po_projection_offset_wake, wake)
