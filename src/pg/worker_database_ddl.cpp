// DROP DATABASE, ALTER DATABASE ... RENAME TO and ALTER DATABASE ... SET
// TABLESPACE refuse a database that another session is connected to, and a
// projection worker is such a session. Before running one of them on a
// database served by a worker, this hook holds the database's slot (so that
// the launcher does not start the worker again), stops the worker and waits
// for it to exit. The hold ends with the transaction: after a DROP or a
// RENAME that committed, the launcher finds the listed name gone and says so
// once; after one that failed, it starts the worker again.
#include "worker_launcher.hpp"
#include "worker_shmem.hpp"

extern "C" {
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "tcop/utility.h"
#include "utils/wait_event.h"
}

namespace po::pg {

namespace {

constexpr long kStopWaitMs = 5000;

ProcessUtility_hook_type prev_process_utility = nullptr;

// Whether the statement may go ahead on that database as far as this
// session can tell: it exists, is not this session's, and the user owns it.
// Otherwise the command fails by itself, and the worker is left alone.
bool may_alter(const char* name) {
    return pg_call([name]() noexcept {
        const Oid db = get_database_oid(name, true);
        if (!OidIsValid(db) || db == MyDatabaseId) return false;
        HeapTuple tuple = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(db));
        if (!HeapTupleIsValid(tuple)) return false;
        const Oid owner = reinterpret_cast<Form_pg_database>(GETSTRUCT(tuple))->datdba;
        ReleaseSysCache(tuple);
        return has_privs_of_role(GetUserId(), owner);
    });
}

// Holds the slot and stops its worker, waiting at most kStopWaitMs for it
// to exit. Past that, the command's own check reports the session left.
void stop_worker(int slot) {
    const pid_t pid = pg_call([slot]() noexcept { return worker_hold(slot); });
    if (pid == 0) return;
    pg_call([slot, pid]() noexcept {
        if (kill(pid, SIGTERM) != 0) return;
        const TimestampTz deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), kStopWaitMs);
        // The worker leaves its slot when it exits, and the process array
        // just after.
        while ((worker_slot_state(slot).worker == pid || BackendPidGetProc(pid) != nullptr) &&
               GetCurrentTimestamp() < deadline) {
            (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 10, PG_WAIT_EXTENSION);
            ResetLatch(MyLatch);
            CHECK_FOR_INTERRUPTS();
        }
    });
}

bool sets_tablespace(const AlterDatabaseStmt* stmt) {
    ListCell* cell;
    foreach (cell, stmt->options) {
        const DefElem* option = static_cast<const DefElem*>(lfirst(cell));
        if (strcmp(option->defname, "tablespace") == 0) return true;
    }
    return false;
}

// The database whose worker must go for this statement, or nullptr; also
// raises, before anything is stopped, the error the command would raise
// in a transaction block.
const char* database_to_free(Node* stmt, bool top_level) {
    if (IsA(stmt, DropdbStmt)) {
        pg_call([top_level]() noexcept { PreventInTransactionBlock(top_level, "DROP DATABASE"); });
        return castNode(DropdbStmt, stmt)->dbname;
    }
    if (IsA(stmt, RenameStmt) && castNode(RenameStmt, stmt)->renameType == OBJECT_DATABASE)
        return castNode(RenameStmt, stmt)->subname;
    if (IsA(stmt, AlterDatabaseStmt) && sets_tablespace(castNode(AlterDatabaseStmt, stmt))) {
        pg_call([top_level]() noexcept {
            PreventInTransactionBlock(top_level, "ALTER DATABASE SET TABLESPACE");
        });
        return castNode(AlterDatabaseStmt, stmt)->dbname;
    }
    return nullptr;
}

void before_database_ddl(Node* stmt, bool top_level) {
    const char* name = database_to_free(stmt, top_level);
    if (name == nullptr) return;
    const int slot = worker_slot_named(name);
    if (slot < 0 || !may_alter(name)) return;
    stop_worker(slot);
}

void process_utility(PlannedStmt* pstmt, const char* query, bool read_only_tree,
                     ProcessUtilityContext context, ParamListInfo params, QueryEnvironment* env,
                     DestReceiver* dest, QueryCompletion* qc) {
    Node* stmt = pstmt->utilityStmt;
    const bool top_level = context == PROCESS_UTILITY_TOPLEVEL;
    entry_point([stmt, top_level]() -> Datum {
        before_database_ddl(stmt, top_level);
        return 0;
    });
    if (prev_process_utility)
        prev_process_utility(pstmt, query, read_only_tree, context, params, env, dest, qc);
    else
        standard_ProcessUtility(pstmt, query, read_only_tree, context, params, env, dest, qc);
}

}  // namespace

void worker_install_database_ddl_hook() {
    prev_process_utility = ProcessUtility_hook;
    ProcessUtility_hook = process_utility;
}

}  // namespace po::pg
