// SQL entry points that forget offsets or move a handler's checkpoint:
// offset_release, offset_reset, offset_prune (two forms), offset_checkpoint.
#include "args.hpp"
#include "spi.hpp"

namespace po::pg {

namespace {

TextArg handler_arg(FunctionCallInfo fcinfo, int n) {
    TextArg handler = text_arg(fcinfo, n);
    check(check_handler_name(handler.view));
    return handler;
}

void require_arg(FunctionCallInfo fcinfo, int n, const char* name) {
    if (PG_ARGISNULL(n)) {
        raise(Problem{sqlstate::null_value_not_allowed, std::string(name) + " must not be null", "", ""});
    }
}

int64_t run_count(FunctionCallInfo fcinfo, Statement statement, const Datum* values) {
    SpiConnection spi(extension_namespace(fcinfo));
    spi.execute(statement, values, nullptr, 0);
    int64_t count = spi.first_int64();
    spi.finish();
    return count;
}

Datum offset_release(FunctionCallInfo fcinfo) {
    OffsetKey key = key_args(fcinfo, 0, 1);
    Datum values[2] = {key.event_id.datum, key.handler_name.datum};
    return BoolGetDatum(run_count(fcinfo, Statement::Release, values) > 0);
}

// The statements over a handler and, when second_arg names one, a second
// argument that must not be NULL.
int64_t run_for_handler(FunctionCallInfo fcinfo, Statement statement, const char* second_arg = nullptr) {
    Datum values[2] = {handler_arg(fcinfo, 0).datum, 0};
    if (second_arg) {
        require_arg(fcinfo, 1, second_arg);
        values[1] = PG_GETARG_DATUM(1);
    }
    return run_count(fcinfo, statement, values);
}

Datum offset_reset(FunctionCallInfo fcinfo) {
    return Int64GetDatum(run_for_handler(fcinfo, Statement::Reset));
}

Datum offset_prune(FunctionCallInfo fcinfo) {
    return Int64GetDatum(run_for_handler(fcinfo, Statement::Prune, "older_than"));
}

Datum offset_prune_to_checkpoint(FunctionCallInfo fcinfo) {
    return Int64GetDatum(run_for_handler(fcinfo, Statement::PruneToCheckpoint));
}

Datum offset_checkpoint(FunctionCallInfo fcinfo) {
    return Int64GetDatum(run_for_handler(fcinfo, Statement::Checkpoint, "position"));
}

}  // namespace

}  // namespace po::pg

PO_SQL_FUNCTION(po_offset_release, po::pg::offset_release)
PO_SQL_FUNCTION(po_offset_reset, po::pg::offset_reset)
PO_SQL_FUNCTION(po_offset_prune, po::pg::offset_prune)
PO_SQL_FUNCTION(po_offset_prune_to_checkpoint, po::pg::offset_prune_to_checkpoint)
PO_SQL_FUNCTION(po_offset_checkpoint, po::pg::offset_checkpoint)
