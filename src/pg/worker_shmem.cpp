// Stub: filled in by the worker.
#include "worker_shmem.hpp"

namespace po::pg {

void worker_install() {}
void worker_wake_at_transaction_end() {}
bool worker_running_here() { return false; }

}  // namespace po::pg
