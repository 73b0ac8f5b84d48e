// Library load: cache invalidation hooks.
#include "projector.hpp"
#include "spi.hpp"

extern "C" {
PG_MODULE_MAGIC;
void _PG_init(void);
}

namespace {

void on_proc_change(Datum, int, uint32) { po::pg::invalidate_projectors(); }
void on_namespace_change(Datum, int, uint32) { po::pg::invalidate_plans(); }

}  // namespace

extern "C" void _PG_init(void) {
    CacheRegisterSyscacheCallback(PROCOID, on_proc_change, 0);
    CacheRegisterSyscacheCallback(NAMESPACEOID, on_namespace_change, 0);
}
