// Library load: settings, shared-memory counters, cache invalidation hooks.
#include "offset_replaying.hpp"
#include "projection_offset_counters.hpp"
#include "projector.hpp"
#include "spi.hpp"
#include "sql_projector.hpp"

extern "C" {
#include "utils/guc.h"

PG_MODULE_MAGIC;
void _PG_init(void);
}

namespace {

void on_proc_change(Datum, int, uint32) {
    po::pg::invalidate_projectors();
    po::pg::invalidate_function_namespace();
}
void on_namespace_change(Datum, int, uint32) { po::pg::invalidate_plans(); }
void on_role_change(Datum, int, uint32) { po::pg::invalidate_projector_privileges(); }

}  // namespace

extern "C" void _PG_init(void) {
    po::pg::define_replaying_setting();
    po::pg::define_sql_projector_setting();
    po::pg::counters::install_hooks();
    MarkGUCPrefixReserved("projection_offset");

    CacheRegisterSyscacheCallback(PROCOID, on_proc_change, 0);
    CacheRegisterSyscacheCallback(NAMESPACEOID, on_namespace_change, 0);
    CacheRegisterSyscacheCallback(AUTHOID, on_role_change, 0);
    CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, on_role_change, 0);
}
