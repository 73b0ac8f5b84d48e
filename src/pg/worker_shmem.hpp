// Shared memory of the projection worker: one slot per database named in
// projection_offset.worker_databases, with the latch of the worker that
// serves it, so that appending transactions can wake it.
#pragma once

#include "guard.hpp"

namespace po::pg {

// From _PG_init: defines the worker's settings and, when loaded by
// shared_preload_libraries, reserves the shared memory and registers one
// background worker per database.
void worker_install();

// Notes that the current transaction appended events to an async source;
// when it commits or aborts, the worker of this database is woken.
void worker_wake_at_transaction_end();

// The worker of slot `slot` announces itself (its database and latch) or
// withdraws.
void worker_publish(int slot, bool present);

// projection_offset.worker_naptime, in milliseconds.
int worker_naptime();

}  // namespace po::pg
