// The projection worker's settings, shared memory and wake-up.
//
// projection_offset.worker_databases is read once, in the postmaster: one
// background worker per database named, each with a slot in shared memory
// where it publishes its latch. A transaction that appended events to an
// async handler's source sets that latch when it ends, after its commit is
// visible, so the worker reads the new events at once instead of polling.
#include "worker_shmem.hpp"

#include "../core/worker_policy.hpp"

extern "C" {
#include "storage/spin.h"
#include "utils/guc.h"
}

namespace po::pg {

namespace {

struct Slot {
    Oid database;
    Latch* latch;
};

struct Shared {
    slock_t mutex;
    int count;
    Slot slots[FLEXIBLE_ARRAY_MEMBER];
};

char* worker_databases = nullptr;
int worker_naptime_ms = 1000;
std::vector<std::string>* configured = nullptr;  // the postmaster's parsed list
Shared* shared = nullptr;
bool wake_pending = false;

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
        shared->count = count;
        for (int i = 0; i < count; i++) shared->slots[i] = Slot{InvalidOid, nullptr};
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
            break;
        default: break;
    }
}

void register_workers() {
    for (size_t i = 0; i < configured->size(); i++) {
        BackgroundWorker worker;
        memset(&worker, 0, sizeof worker);
        worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
        worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
        worker.bgw_restart_time = 1;
        snprintf(worker.bgw_library_name, sizeof worker.bgw_library_name, "projection_offset");
        snprintf(worker.bgw_function_name, sizeof worker.bgw_function_name, "po_projection_worker_main");
        snprintf(worker.bgw_name, sizeof worker.bgw_name, "projection_offset worker for %s",
                 (*configured)[i].c_str());
        snprintf(worker.bgw_type, sizeof worker.bgw_type, "projection_offset worker");
        snprintf(worker.bgw_extra, sizeof worker.bgw_extra, "%s", (*configured)[i].c_str());
        worker.bgw_main_arg = Int32GetDatum(static_cast<int32>(i));
        RegisterBackgroundWorker(&worker);
    }
}

}  // namespace

int worker_naptime() { return worker_naptime_ms; }

void worker_install() {
    DefineCustomIntVariable("projection_offset.worker_naptime",
                            "Longest time the projection worker sleeps without being woken.",
                            "Appends wake the worker at once; this bounds how late it notices events "
                            "appended without the wake trigger, and retries of paused or failed handlers.",
                            &worker_naptime_ms, 1000, 10, 3600 * 1000, PGC_SIGHUP, GUC_UNIT_MS, nullptr,
                            nullptr, nullptr);
    RegisterXactCallback(on_xact, nullptr);
    // A PGC_POSTMASTER setting can only be defined while the postmaster
    // preloads the library; a session that loads it later has no worker.
    if (!process_shared_preload_libraries_in_progress) return;
    DefineCustomStringVariable(
        "projection_offset.worker_databases", "Databases in which a projection worker runs.",
        "A comma-separated list; the worker applies the async handlers registered there. "
        "Takes effect at server start, with projection_offset in shared_preload_libraries.",
        &worker_databases, "", PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);

    // The postmaster's own copy of the list, kept for the hooks below.
    configured = new std::vector<std::string>(po::split_database_list(worker_databases ? worker_databases : ""));
    for (const std::string& name : *configured)
        if (name.size() >= NAMEDATALEN)
            ereport(FATAL, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                            errmsg("database name \"%s\" in projection_offset.worker_databases is too long",
                                   name.c_str())));
    prev_request_hook = shmem_request_hook;
    shmem_request_hook = request_shmem;
    prev_startup_hook = shmem_startup_hook;
    shmem_startup_hook = startup_shmem;
    register_workers();
}

void worker_wake_at_transaction_end() { wake_pending = true; }

void worker_publish(int slot, bool present) {
    if (shared == nullptr || slot < 0 || slot >= shared->count) return;
    SpinLockAcquire(&shared->mutex);
    shared->slots[slot] = present ? Slot{MyDatabaseId, MyLatch} : Slot{InvalidOid, nullptr};
    SpinLockRelease(&shared->mutex);
}

}  // namespace po::pg
