// The projection worker's settings, shared memory and wake-up.
//
// projection_offset.worker_databases is read once, in the postmaster: one
// slot per database named, in shared memory, where the worker serving it
// publishes its latch. A transaction that appended events to an async
// handler's source sets that latch when it ends, after its commit is
// visible, so the worker reads the new events at once instead of polling.
// The launcher (worker_launcher.cpp) starts the workers.
#include "worker_shmem.hpp"

#include "worker_launcher.hpp"
#include "../core/worker_policy.hpp"

extern "C" {
#include "postmaster/interrupt.h"
#include "storage/spin.h"
#include "utils/guc.h"
}

namespace po::pg {

namespace {

struct Slot {
    char name[NAMEDATALEN];  // from the list, fixed at server start
    pid_t worker;            // the process that claimed the slot
    Oid database;            // its database and latch, once connected
    Latch* latch;
    pid_t holder;  // a backend whose DROP/ALTER DATABASE holds it
};

struct Shared {
    slock_t mutex;
    Latch* launcher_latch;
    int count;
    Slot slots[FLEXIBLE_ARRAY_MEMBER];
};

char* worker_databases = nullptr;
int worker_naptime_ms = 1000;
std::vector<std::string>* configured = nullptr;  // the postmaster's parsed list
Shared* shared = nullptr;
bool wake_pending = false;
bool holding = false;  // this backend holds a slot until its transaction ends

shmem_request_hook_type prev_request_hook = nullptr;
shmem_startup_hook_type prev_startup_hook = nullptr;

Size shared_size(int count) { return add_size(offsetof(Shared, slots), mul_size(sizeof(Slot), count)); }

void request_shmem() {
    if (prev_request_hook) prev_request_hook();
    RequestAddinShmemSpace(shared_size(static_cast<int>(configured->size())));
}

void startup_shmem() {
    if (prev_startup_hook) prev_startup_hook();
    const int count = static_cast<int>(configured->size());
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    bool found = false;
    shared = static_cast<Shared*>(ShmemInitStruct("projection_offset worker", shared_size(count), &found));
    if (!found) {
        SpinLockInit(&shared->mutex);
        shared->launcher_latch = nullptr;
        shared->count = count;
        for (int i = 0; i < count; i++) {
            Slot& slot = shared->slots[i];
            memset(&slot, 0, sizeof slot);
            snprintf(slot.name, sizeof slot.name, "%s", (*configured)[i].c_str());
            slot.database = InvalidOid;
        }
    }
    LWLockRelease(AddinShmemInitLock);
}

void wake_database(Oid database) {
    if (shared == nullptr) return;
    Latch* latch = nullptr;
    SpinLockAcquire(&shared->mutex);
    for (int i = 0; i < shared->count; i++)
        if (shared->slots[i].database == database) latch = shared->slots[i].latch;
    SpinLockRelease(&shared->mutex);
    // A latch left by a worker that has exited belongs to a PGPROC that
    // another process may use now: setting it is a spurious wake-up there,
    // which every latch user tolerates.
    if (latch) SetLatch(latch);
}

// The end of the transaction that held slots: the launcher may start
// their workers again, if their databases are still there.
void release_holds() {
    holding = false;
    if (shared == nullptr) return;
    Latch* launcher = nullptr;
    SpinLockAcquire(&shared->mutex);
    for (int i = 0; i < shared->count; i++)
        if (shared->slots[i].holder == MyProcPid) shared->slots[i].holder = 0;
    launcher = shared->launcher_latch;
    SpinLockRelease(&shared->mutex);
    if (launcher) SetLatch(launcher);
}

void on_xact(XactEvent event, void*) {
    switch (event) {
        case XACT_EVENT_COMMIT:
        case XACT_EVENT_PARALLEL_COMMIT:
        case XACT_EVENT_ABORT:
        case XACT_EVENT_PARALLEL_ABORT:
        case XACT_EVENT_PREPARE:
            // An abort wakes the worker too: the transaction may have held
            // back the positions after it.
            if (wake_pending) {
                wake_pending = false;
                wake_database(MyDatabaseId);
            }
            if (holding) release_holds();
            break;
        default: break;
    }
}

}  // namespace

int worker_naptime() { return worker_naptime_ms; }

void worker_install() {
    DefineCustomIntVariable(
        "projection_offset.worker_naptime", "Longest time the projection worker sleeps without being woken.",
        "Appends wake the worker at once; this bounds how late it notices events "
        "appended without the wake trigger, and retries of paused or failed handlers.",
        &worker_naptime_ms, 1000, 10, 3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS, nullptr, nullptr, nullptr);
    RegisterXactCallback(on_xact, nullptr);
    // A PGC_POSTMASTER setting can only be defined while the postmaster
    // preloads the library; a session that loads it later has no worker.
    if (!process_shared_preload_libraries_in_progress) return;
    DefineCustomStringVariable(
        "projection_offset.worker_databases", "Databases in which a projection worker runs.",
        "A comma-separated list; the worker applies the async handlers registered there. "
        "Takes effect at server start, with projection_offset in shared_preload_libraries. "
        "A database created later is served once it exists.",
        &worker_databases, "", PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);

    // The postmaster's own copy of the list, kept for the hooks below.
    configured =
        new std::vector<std::string>(po::split_database_list(worker_databases ? worker_databases : ""));
    for (const std::string& name : *configured)
        if (name.size() >= NAMEDATALEN)
            ereport(FATAL, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("database name \"%s\" in projection_offset.worker_databases is too long",
                                   name.c_str())));
    prev_request_hook = shmem_request_hook;
    shmem_request_hook = request_shmem;
    prev_startup_hook = shmem_startup_hook;
    shmem_startup_hook = startup_shmem;
    if (configured->empty()) return;
    worker_register_launcher();
    worker_install_database_ddl_hook();
}

void worker_wake_at_transaction_end() { wake_pending = true; }

int worker_slot_count() { return shared ? shared->count : 0; }

const char* worker_slot_name(int slot) { return shared->slots[slot].name; }

int worker_slot_named(const char* name) {
    for (int i = 0; i < worker_slot_count(); i++)
        if (strcmp(worker_slot_name(i), name) == 0) return i;
    return -1;
}

bool worker_claim(int slot) {
    if (shared == nullptr || slot < 0 || slot >= shared->count) return false;
    SpinLockAcquire(&shared->mutex);
    Slot& s = shared->slots[slot];
    // A slot is freed by its worker's exit callback, and a crash resets the
    // shared memory: a pid left here is a live worker.
    const bool free = s.worker == 0 && s.holder == 0;
    if (free) s.worker = MyProcPid;
    SpinLockRelease(&shared->mutex);
    return free;
}

void worker_publish(int slot) {
    SpinLockAcquire(&shared->mutex);
    shared->slots[slot].database = MyDatabaseId;
    shared->slots[slot].latch = MyLatch;
    SpinLockRelease(&shared->mutex);
}

void worker_withdraw(int slot) {
    if (shared == nullptr || slot < 0 || slot >= shared->count) return;
    SpinLockAcquire(&shared->mutex);
    Slot& s = shared->slots[slot];
    if (s.worker == MyProcPid) {
        s.worker = 0;
        s.database = InvalidOid;
        s.latch = nullptr;
    }
    SpinLockRelease(&shared->mutex);
}

SlotState worker_slot_state(int slot) {
    SpinLockAcquire(&shared->mutex);
    const SlotState state{shared->slots[slot].worker, shared->slots[slot].holder};
    SpinLockRelease(&shared->mutex);
    return state;
}

pid_t worker_hold(int slot) {
    holding = true;
    SpinLockAcquire(&shared->mutex);
    shared->slots[slot].holder = MyProcPid;
    const pid_t worker = shared->slots[slot].worker;
    SpinLockRelease(&shared->mutex);
    return worker;
}

void worker_release_stale_hold(int slot, pid_t holder) {
    SpinLockAcquire(&shared->mutex);
    if (shared->slots[slot].holder == holder) shared->slots[slot].holder = 0;
    SpinLockRelease(&shared->mutex);
}

void worker_launcher_publish(bool present) {
    if (shared == nullptr) return;
    SpinLockAcquire(&shared->mutex);
    shared->launcher_latch = present ? MyLatch : nullptr;
    SpinLockRelease(&shared->mutex);
}

void worker_wake_up() {
    pg_call([]() noexcept {
        ResetLatch(MyLatch);
        CHECK_FOR_INTERRUPTS();
        if (ConfigReloadPending) {
            ConfigReloadPending = false;
            ProcessConfigFile(PGC_SIGHUP);
        }
    });
}

void worker_nap(long ms) {
    pg_call([ms]() noexcept {
        (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, ms, PG_WAIT_EXTENSION);
    });
}

}  // namespace po::pg
