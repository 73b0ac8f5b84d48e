// Shared memory of the projection worker: one slot per database named in
// projection_offset.worker_databases (its index in the list), holding the
// name, the process and latch of the worker serving it, and whether a
// DROP/ALTER DATABASE holds it stopped; plus the launcher's latch.
//
// The slots belong to the list, fixed at server start. The worker of slot i
// claims it and publishes its latch (appending transactions wake it there);
// the launcher reads them to know which databases are served; a backend
// running DROP DATABASE holds a slot to stop its worker until the end of its
// transaction.
#pragma once

#include "guard.hpp"

namespace po::pg {

// From _PG_init: defines the worker's settings and, when loaded by
// shared_preload_libraries, reserves the shared memory and registers the
// launcher and the DROP DATABASE hook.
void worker_install();

// Notes that the current transaction appended events to an async source;
// when it commits or aborts, the worker of this database is woken.
void worker_wake_at_transaction_end();

// projection_offset.worker_naptime, in milliseconds.
int worker_naptime();

// The two ends of a background loop's turn, for the launcher and the
// workers alike: wake_up() clears the latch, answers SIGTERM and reloads
// the configuration after a SIGHUP; nap() sleeps until the latch is set or
// `ms` pass (the postmaster's death ends the process).
void worker_wake_up();
void worker_nap(long ms);

// Slots: their number (0 without the shared memory) and database names.
int worker_slot_count();
const char* worker_slot_name(int slot);
// The slot of a database name (the list has no repeats), or -1.
int worker_slot_named(const char* name);

// The worker of slot `slot` claims it before connecting: false when
// another worker has it or a DROP DATABASE holds it (the caller exits).
bool worker_claim(int slot);
// Once connected, it publishes its database and latch; then withdraws.
void worker_publish(int slot);
void worker_withdraw(int slot);

// The process serving the slot (0: none) and the backend holding it
// (0: none), read together.
struct SlotState {
    pid_t worker = 0;
    pid_t holder = 0;
};
SlotState worker_slot_state(int slot);

// Holds the slot for the current transaction: no worker claims it until
// the transaction ends, when the launcher is woken. Returns the pid of the
// worker serving it now (0: none).
pid_t worker_hold(int slot);
// Clears a hold whose backend is gone (the launcher, as a safeguard).
void worker_release_stale_hold(int slot, pid_t holder);

// The launcher publishes its latch, so that the end of a hold wakes it.
void worker_launcher_publish(bool present);

}  // namespace po::pg
