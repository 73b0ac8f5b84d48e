// Library load: settings, shared-memory counters, cache invalidation hooks.
#include "active_call.hpp"
#include "offset_replaying.hpp"
#include "projection_offset_counters.hpp"
#include "projector.hpp"
#include "server_encoding.hpp"
#include "spi.hpp"
#include "sql_projector.hpp"
#include "worker_shmem.hpp"
#include "../core/validate.hpp"

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
    po::pg::worker_install();
    MarkGUCPrefixReserved("projection_offset");

    // Shortened ids and names in messages are cut by the database encoding.
    po::set_text_cutter(po::pg::server_encoding_cut);
    po::pg::install_active_call_callbacks();

    CacheRegisterSyscacheCallback(PROCOID, on_proc_change, 0);
    CacheRegisterSyscacheCallback(NAMESPACEOID, on_namespace_change, 0);
    CacheRegisterSyscacheCallback(AUTHOID, on_role_change, 0);
    CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, on_role_change, 0);
}
