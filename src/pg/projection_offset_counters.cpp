#include "projection_offset_counters.hpp"

#include "../core/validate.hpp"

extern "C" {
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"
}

namespace po::pg::counters {

namespace {

// The database and the zero-padded handler name; the empty name collects
// the handlers of a database that arrive once the table is full. Entries are never removed (a reset zeroes
// them), so a backend may keep a pointer to the entry it used last.
struct Key {
    Oid database;
    char name[kMaxHandlerNameBytes + 1];
};

struct Entry {
    Key key;
    pg_atomic_uint64 claims;
    pg_atomic_uint64 duplicates;
    pg_atomic_uint64 divergences;
    TimestampTz since;  // creation or last reset; written under the exclusive lock
};

struct Header {
    LWLock* lock;
};

int max_handlers = 1024;
Header* header = nullptr;
HTAB* table = nullptr;
shmem_request_hook_type prev_request_hook = nullptr;
shmem_startup_hook_type prev_startup_hook = nullptr;
bool preloaded = false;

// The entry this backend counted into last: handlers are usually called in
// runs, and this skips the hash lookup and its lock.
std::string last_name;
Entry* last_entry = nullptr;

void request_shmem() {
    if (prev_request_hook) prev_request_hook();
    RequestAddinShmemSpace(MAXALIGN(sizeof(Header)) + hash_estimate_size(max_handlers + 1, sizeof(Entry)));
    RequestNamedLWLockTranche("projection_offset", 1);
}

void startup_shmem() {
    if (prev_startup_hook) prev_startup_hook();
    LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
    bool found = false;
    header = static_cast<Header*>(ShmemInitStruct("projection_offset counters", sizeof(Header), &found));
    if (!found) {
        header->lock = &(GetNamedLWLockTranche("projection_offset"))->lock;
    }
    HASHCTL info;
    memset(&info, 0, sizeof info);
    info.keysize = sizeof(Key);
    info.entrysize = sizeof(Entry);
    table = ShmemInitHash("projection_offset counters by handler", max_handlers + 1, max_handlers + 1, &info,
                          HASH_ELEM | HASH_BLOBS);
    LWLockRelease(AddinShmemInitLock);
}

Key make_key(std::string_view name) {
    Key key;
    memset(&key, 0, sizeof key);
    key.database = MyDatabaseId;
    memcpy(key.name, name.data(), std::min(name.size(), sizeof key.name - 1));
    return key;
}

Entry* find_or_create(const Key& key) {
    LWLockAcquire(header->lock, LW_SHARED);
    auto* entry = static_cast<Entry*>(hash_search(table, &key, HASH_FIND, nullptr));
    LWLockRelease(header->lock);
    if (entry) return entry;

    LWLockAcquire(header->lock, LW_EXCLUSIVE);
    bool found = false;
    // The last slot is kept for the overflow key.
    const Key overflow = make_key("");
    const Key& use = hash_get_num_entries(table) < max_handlers ? key : overflow;
    entry = static_cast<Entry*>(hash_search(table, &use, HASH_ENTER_NULL, &found));
    if (entry && !found) {
        pg_atomic_init_u64(&entry->claims, 0);
        pg_atomic_init_u64(&entry->duplicates, 0);
        pg_atomic_init_u64(&entry->divergences, 0);
        entry->since = GetCurrentTimestamp();
    }
    LWLockRelease(header->lock);
    return entry;
}

void require_available() {
    if (!available()) {
        raise(Problem{"55000", "projection_offset counters are not available",
                      "The counters live in shared memory, which only a library loaded at server "
                      "start can allocate.",
                      "Add projection_offset to shared_preload_libraries and restart the server."});
    }
}

// Reset entries stay in the table with zero counts; they are not shown.
bool counted(const Entry* entry) {
    return pg_atomic_read_u64(const_cast<pg_atomic_uint64*>(&entry->claims)) != 0 ||
           pg_atomic_read_u64(const_cast<pg_atomic_uint64*>(&entry->duplicates)) != 0 ||
           pg_atomic_read_u64(const_cast<pg_atomic_uint64*>(&entry->divergences)) != 0;
}

Datum read_counters(FunctionCallInfo fcinfo) {
    require_available();
    pg_call([&]() noexcept {
        InitMaterializedSRF(fcinfo, 0);
        auto* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
        LWLockAcquire(header->lock, LW_SHARED);
        HASH_SEQ_STATUS scan;
        hash_seq_init(&scan, table);
        while (auto* entry = static_cast<Entry*>(hash_seq_search(&scan))) {
            if (entry->key.database != MyDatabaseId || !counted(entry)) continue;
            Datum values[5];
            bool nulls[5] = {false, false, false, false, false};
            if (entry->key.name[0] == '\0')
                nulls[0] = true;
            else
                values[0] = CStringGetTextDatum(entry->key.name);
            values[1] = Int64GetDatum(static_cast<int64>(pg_atomic_read_u64(&entry->claims)));
            values[2] = Int64GetDatum(static_cast<int64>(pg_atomic_read_u64(&entry->duplicates)));
            values[3] = Int64GetDatum(static_cast<int64>(pg_atomic_read_u64(&entry->divergences)));
            values[4] = TimestampTzGetDatum(entry->since);
            tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
        }
        LWLockRelease(header->lock);
    });
    return static_cast<Datum>(0);
}

Datum reset_counters(FunctionCallInfo) {
    require_available();
    pg_call([]() noexcept {
        const TimestampTz now = GetCurrentTimestamp();
        LWLockAcquire(header->lock, LW_EXCLUSIVE);
        HASH_SEQ_STATUS scan;
        hash_seq_init(&scan, table);
        while (auto* entry = static_cast<Entry*>(hash_seq_search(&scan))) {
            if (entry->key.database != MyDatabaseId) continue;
            pg_atomic_write_u64(&entry->claims, 0);
            pg_atomic_write_u64(&entry->duplicates, 0);
            pg_atomic_write_u64(&entry->divergences, 0);
            entry->since = now;
        }
        LWLockRelease(header->lock);
    });
    return static_cast<Datum>(0);
}

}  // namespace

void install_hooks() {
    if (!process_shared_preload_libraries_in_progress) return;
    DefineCustomIntVariable("projection_offset.max_handlers",
                            "Number of handlers whose counters are kept in shared memory.",
                            "Handlers beyond it are counted together under a NULL handler name.",
                            &max_handlers, 1024, 16, 1000000, PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
    prev_request_hook = shmem_request_hook;
    shmem_request_hook = request_shmem;
    prev_startup_hook = shmem_startup_hook;
    shmem_startup_hook = startup_shmem;
    preloaded = true;
}

bool available() { return preloaded && header != nullptr && table != nullptr; }

void add(std::string_view handler_name, const Delta& delta) {
    if (!available() || (delta.claims | delta.duplicates | delta.divergences) == 0) return;
    if (!last_entry || last_name != handler_name) {
        const Key key = make_key(handler_name);
        Entry* found = pg_call([&]() noexcept { return find_or_create(key); });
        if (!found) return;
        last_entry = found;
        last_name.assign(handler_name);
    }
    Entry* entry = last_entry;
    pg_call([&]() noexcept {
        if (delta.claims) pg_atomic_fetch_add_u64(&entry->claims, static_cast<int64>(delta.claims));
        if (delta.duplicates)
            pg_atomic_fetch_add_u64(&entry->duplicates, static_cast<int64>(delta.duplicates));
        if (delta.divergences)
            pg_atomic_fetch_add_u64(&entry->divergences, static_cast<int64>(delta.divergences));
    });
}

}  // namespace po::pg::counters

PO_SQL_FUNCTION(po_projection_offset_counters, po::pg::counters::read_counters)

PO_SQL_FUNCTION(po_projection_offset_counters_reset, po::pg::counters::reset_counters)

// The symbols the 1.1 install script names.
PO_SQL_FUNCTION(po_counters, po::pg::counters::read_counters)
PO_SQL_FUNCTION(po_counters_reset, po::pg::counters::reset_counters)
