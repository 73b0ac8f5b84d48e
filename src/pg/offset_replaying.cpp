// The setting projection_offset.replaying and the SQL entry point
// offset_replaying() RETURNS boolean that reads it.
//
// The extension never reads the flag itself: projectors and triggers read it
// to keep side effects (NOTIFY, outbox rows) quiet during a rebuild or
// replay. current_setting('projection_offset.replaying') fails with 42704 in
// a session that has not loaded the library yet; calling this function loads
// it, and _PG_init then takes over a value SET earlier in the session.
#include "offset_replaying.hpp"

extern "C" {
#include "utils/guc.h"
}

namespace po::pg {

namespace {

bool replaying = false;

Datum offset_replaying(FunctionCallInfo) { return BoolGetDatum(replaying); }

}  // namespace

void define_replaying_setting() {
    DefineCustomBoolVariable(
        "projection_offset.replaying", "Marks the session as rebuilding or replaying projections.",
        "Projectors and triggers read it with offset_replaying() to suppress side effects.", &replaying,
        false, PGC_USERSET, 0, nullptr, nullptr, nullptr);
}

}  // namespace po::pg

PO_SQL_FUNCTION(po_offset_replaying, po::pg::offset_replaying)
