// The projection worker's launcher: one background worker, connected to no
// database, that starts a worker for each database of
// projection_offset.worker_databases that exists and allows connections.
//
// A static worker per database would be restarted by the postmaster every
// second for ever when its database is missing, and would start again
// after DROP DATABASE. The launcher instead reads pg_database (a shared
// catalog) at every naptime and whenever it is signalled, and starts each
// worker as a dynamic background worker that is never restarted by the
// postmaster: the launcher restarts one that exited, later and later while
// it keeps failing, and says once, not at every check, that a database is
// missing or closed to connections. A database created later is served as
// soon as the launcher sees it.
#include <algorithm>

#include "worker_launcher.hpp"
#include "worker_shmem.hpp"
#include "../core/worker_policy.hpp"

extern "C" {
#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_database.h"
#include "postmaster/interrupt.h"
#include "utils/guc.h"
#include "utils/wait_event.h"

PGDLLEXPORT void po_projection_launcher_main(Datum main_arg);
}

// Minor releases before 15.5 do not name it; the value is the same.
#ifndef DATCONNLIMIT_INVALID_DB
#define DATCONNLIMIT_INVALID_DB -2
#endif

namespace po::pg {

namespace {

// What the launcher last said of a database, so that it says it once.
enum class Said { Nothing, Missing, Closed, NoWorkerSlot };

// A listed database as pg_database has it.
struct Listed {
    bool exists;
    bool allows_connections;
};

// The launcher's own record of each slot.
struct Served {
    BackgroundWorkerHandle* handle;  // the worker it started, in TopMemoryContext
    TimestampTz started_at;
    TimestampTz start_after;  // a restart waits until then
    int64 delay_ms;           // the last restart delay (0: none)
    Said said;
};

Served* served = nullptr;  // worker_slot_count() of them

// pg_database in a transaction of its own: the launcher sees every
// committed CREATE, DROP and ALTER DATABASE.
void read_catalog(Listed* listed, int count) {
    pg_call([listed, count]() noexcept {
        for (int i = 0; i < count; i++) listed[i] = Listed{false, false};
        SetCurrentStatementStartTimestamp();
        StartTransactionCommand();
        (void)GetTransactionSnapshot();
        Relation rel = table_open(DatabaseRelationId, AccessShareLock);
        TableScanDesc scan = table_beginscan_catalog(rel, 0, nullptr);
        HeapTuple tuple;
        while (HeapTupleIsValid(tuple = heap_getnext(scan, ForwardScanDirection))) {
            CHECK_FOR_INTERRUPTS();
            const Form_pg_database db = reinterpret_cast<Form_pg_database>(GETSTRUCT(tuple));
            const int i = worker_slot_named(NameStr(db->datname));
            if (i < 0) continue;
            listed[i].exists = true;
            // A DROP DATABASE interrupted half-way leaves the database
            // invalid: connecting to it fails like a closed one.
            listed[i].allows_connections = db->datallowconn && db->datconnlimit != DATCONNLIMIT_INVALID_DB;
        }
        table_endscan(scan);
        table_close(rel, AccessShareLock);
        CommitTransactionCommand();
    });
}

void say(int slot, Said what) {
    Served& s = served[slot];
    if (s.said == what) return;
    s.said = what;
    const char* name = worker_slot_name(slot);
    switch (what) {
        case Said::Missing:
            ereport(
                WARNING,
                (errcode(ERRCODE_UNDEFINED_DATABASE),
                 errmsg("database \"%s\" named in projection_offset.worker_databases does not exist", name),
                 errdetail("Its projection worker starts once the database is created."),
                 errhint("Create the database, or remove it from projection_offset.worker_databases.")));
            break;
        case Said::Closed:
            ereport(
                WARNING,
                (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
                 errmsg(
                     "database \"%s\" named in projection_offset.worker_databases does not allow connections",
                     name),
                 errdetail("Its projection worker starts once the database allows connections."),
                 errhint("Run ALTER DATABASE ... ALLOW_CONNECTIONS true, or remove the database from "
                         "projection_offset.worker_databases.")));
            break;
        case Said::NoWorkerSlot:
            ereport(WARNING,
                    (errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
                     errmsg("could not start the projection worker for database \"%s\"", name),
                     errdetail("Every background worker slot is in use; the launcher tries again later."),
                     errhint("Raise max_worker_processes.")));
            break;
        case Said::Nothing: break;
    }
}

void schedule_restart(Served& s, TimestampTz now) {
    s.delay_ms = launcher_restart_delay_ms(s.delay_ms, (now - s.started_at) / 1000);
    s.start_after = now + s.delay_ms * 1000;
}

void start_worker(int slot, TimestampTz now) {
    Served& s = served[slot];
    const char* name = worker_slot_name(slot);
    BackgroundWorker worker;
    memset(&worker, 0, sizeof worker);
    worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
    // The launcher restarts it, when its database is still there.
    worker.bgw_restart_time = BGW_NEVER_RESTART;
    snprintf(worker.bgw_library_name, sizeof worker.bgw_library_name, "projection_offset");
    snprintf(worker.bgw_function_name, sizeof worker.bgw_function_name, "po_projection_worker_main");
    snprintf(worker.bgw_name, sizeof worker.bgw_name, "projection_offset worker for %s", name);
    snprintf(worker.bgw_type, sizeof worker.bgw_type, "projection_offset worker");
    snprintf(worker.bgw_extra, sizeof worker.bgw_extra, "%s", name);
    worker.bgw_main_arg = Int32GetDatum(slot);
    // Its exit sets the launcher's latch.
    worker.bgw_notify_pid = MyProcPid;
    MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
    BackgroundWorkerHandle* handle = nullptr;
    const bool registered = RegisterDynamicBackgroundWorker(&worker, &handle);
    MemoryContextSwitchTo(old);
    s.started_at = now;
    if (!registered) {
        say(slot, Said::NoWorkerSlot);
        schedule_restart(s, now);
        return;
    }
    s.handle = handle;
    s.said = Said::Nothing;
}

// One look at every slot; returns how long to sleep, in ms.
long check(const Listed* listed) {
    return pg_call([listed]() noexcept {
        const TimestampTz now = GetCurrentTimestamp();
        long sleep_ms = worker_naptime();
        for (int i = 0; i < worker_slot_count(); i++) {
            CHECK_FOR_INTERRUPTS();
            Served& s = served[i];
            const SlotState state = worker_slot_state(i);
            if (s.handle != nullptr) {
                pid_t pid = 0;
                const BgwHandleStatus status = GetBackgroundWorkerPid(s.handle, &pid);
                if (status == BGWH_POSTMASTER_DIED) proc_exit(1);
                if (status != BGWH_STOPPED) continue;  // starting or running
                pfree(s.handle);
                s.handle = nullptr;
                // Stopped by DROP/ALTER DATABASE: no failure to back off from.
                if (state.holder != 0)
                    s.delay_ms = s.start_after = 0;
                else
                    schedule_restart(s, now);
            }
            if (state.holder != 0) {
                // The hold ends with the holder's transaction, which wakes the
                // launcher; a holder that is gone without ending it is cleared.
                if (BackendPidGetProc(state.holder) != nullptr) continue;
                worker_release_stale_hold(i, state.holder);
            }
            // A worker started by an earlier life of the launcher serves it.
            if (state.worker != 0) continue;
            if (!listed[i].exists) {
                say(i, Said::Missing);
                continue;
            }
            if (!listed[i].allows_connections) {
                say(i, Said::Closed);
                continue;
            }
            if (now < s.start_after) {
                sleep_ms = std::min(sleep_ms, static_cast<long>((s.start_after - now) / 1000) + 1);
                continue;
            }
            start_worker(i, now);
        }
        return sleep_ms;
    });
}

void withdraw_at_exit(int, Datum) { worker_launcher_publish(false); }

void run() {
    const int count = worker_slot_count();
    served = new Served[count]();
    std::vector<Listed> listed(count);
    pg_call([]() noexcept {
        before_shmem_exit(withdraw_at_exit, 0);
        worker_launcher_publish(true);
    });
    for (;;) {
        worker_wake_up();
        long sleep_ms = worker_naptime();
        try {
            read_catalog(listed.data(), count);
            sleep_ms = check(listed.data());
        } catch (const PgError& e) {
            // Reading the catalog failed (out of memory, say): logged, and
            // tried again at the next naptime.
            ErrorData* error = e.data();
            pg_call([error]() noexcept {
                AbortOutOfAnyTransaction();
                MemoryContextSwitchTo(TopMemoryContext);
                ereport(LOG, (errcode(error->sqlerrcode),
                              errmsg("projection worker launcher: %s", error->message)));
                FreeErrorData(error);
            });
        }
        worker_nap(sleep_ms);
    }
}

}  // namespace

void worker_register_launcher() {
    BackgroundWorker worker;
    memset(&worker, 0, sizeof worker);
    // A database connection, to no database: pg_database is shared.
    worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
    // The launcher ends only on an error of its own; the workers it started
    // keep running meanwhile, and it finds them in their slots again.
    worker.bgw_restart_time = 10;
    snprintf(worker.bgw_library_name, sizeof worker.bgw_library_name, "projection_offset");
    snprintf(worker.bgw_function_name, sizeof worker.bgw_function_name, "po_projection_launcher_main");
    snprintf(worker.bgw_name, sizeof worker.bgw_name, "projection_offset launcher");
    snprintf(worker.bgw_type, sizeof worker.bgw_type, "projection_offset launcher");
    RegisterBackgroundWorker(&worker);
}

}  // namespace po::pg

extern "C" void po_projection_launcher_main(Datum) {
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    pqsignal(SIGTERM, die);
    BackgroundWorkerUnblockSignals();
    BackgroundWorkerInitializeConnection(nullptr, nullptr, 0);
    // Nothing below returns; an error that escapes the loop ends the
    // launcher, which the postmaster starts again.
    po::pg::entry_point([]() -> Datum {
        po::pg::run();
        return 0;
    });
    proc_exit(1);
}
