// SPI access for the extension's own statements: one prepared, kept plan per
// statement and backend, naming every object by schema.
#pragma once

#include <cstdint>

#include "guard.hpp"

namespace po::pg {

enum class Statement {
    ClaimOne,           // INSERT one pair ... ON CONFLICT DO NOTHING RETURNING
    ClaimOneHashed,     // the same, returning the stored hash of an existing pair
    ClaimOneAt,         // the same, for a claim that carries a position
    StoredHash,         // the recorded payloadHash of one pair, by primary key
    ClaimBatchIds,      // set-based INSERT of an id array, returning the ids recorded
    ClaimBatch,         // set-based INSERT of ids and hashes
    ClaimBatchAt,       // the same, for batches where events carry positions
    StoredHashes,       // the recorded payloadHash of many ids of one handler
    Release,            // forget one pair
    Reset,              // forget a handler: offsets, positions, checkpoint
    Prune,              // forget a handler's offsets older than a time
    PruneToCheckpoint,  // forget a handler's offsets at or below its checkpoint
    Checkpoint,         // raise a handler's checkpoint
    Count_              // not a statement
};

// The schema the extension was installed in: that of the called function.
Oid extension_namespace(FunctionCallInfo fcinfo);

// An SPI connection for the duration of one C++ scope. finish() is explicit:
// on an error path the transaction abort closes the connection, and the
// destructor must not call into PostgreSQL while C++ unwinds.
class SpiConnection {
public:
    explicit SpiConnection(Oid nsp);
    SpiConnection(const SpiConnection&) = delete;
    SpiConnection& operator=(const SpiConnection&) = delete;

    // Runs a statement; returns the rows it produced (SPI_processed).
    uint64_t execute(Statement statement, const Datum* values, const char* nulls, long limit = 0);
    void finish();

    // The first column of the first row of the last result, as int64 or bool.
    int64_t first_int64();
    bool first_bool(int column = 1);
    // A text column of the last result, copied out of SPI memory, which
    // lasts one statement; empty when NULL.
    std::optional<std::string> text_at(uint64_t row, int column);

private:
    Oid nsp_;
};

// Called from the namespace syscache callback: plans are rebuilt on next use.
void invalidate_plans();

// Called from the pg_proc syscache callback.
void invalidate_function_namespace();

}  // namespace po::pg
