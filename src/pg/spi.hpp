// SPI access for the extension's own statements: one prepared, kept plan per
// statement and backend, naming every object by schema.
#pragma once

#include <cstdint>

#include "guard.hpp"
#include "../core/validate.hpp"

namespace po::pg {

enum class Statement {
    ClaimOne,           // INSERT one pair ... ON CONFLICT DO NOTHING, or the stored hash
    ClaimOneAt,         // the same, for a claim that carries a position
    StoredHash,         // the recorded payloadHash of one pair, by primary key
    StoredPosition,     // whether one pair has a recorded position
    ClaimBatchIds,      // set-based INSERT of an id array, returning the ids recorded
    ClaimSorted,        // set-based INSERT of sorted ids with their payload hashes
    ClaimSortedAt,      // the same, for batches where events carry positions
    StoredHashes,       // the stored payloadHash of each id of an array
    MissingIds,         // the first id of an array that is not stored
    Release,            // forget one pair
    Reset,              // forget a handler: offsets, positions, checkpoint
    Prune,              // forget a handler's offsets older than a time
    PruneToCheckpoint,  // forget a handler's offsets at or below its checkpoint
    Checkpoint,         // raise a handler's checkpoint
    Count_              // not a statement
};

// The schema the extension was installed in: that of the called function.
Oid extension_namespace(FunctionCallInfo fcinfo);

// The name of schema `nsp`, quoted for SQL text; 3F000 if it is gone.
std::string quoted_schema(Oid nsp);

// An identifier quoted for SQL text, as quote_identifier() does.
std::string quoted_identifier(const std::string& identifier);

// Receives the rows of a statement one at a time, from inside the executor,
// so that a large result is never held in memory. row() runs inside a
// pg_call: it must not throw, and must not keep C++ objects with
// destructors alive across backend calls that may raise an error.
class RowSink {
public:
    virtual ~RowSink() = default;
    // The row's columns, valid during the call only.
    virtual void row(const Datum* values, const bool* isnull) noexcept = 0;
};

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
    // Runs a statement whose `columns` columns go to sink row by row
    // (after a check for interrupts) instead of into SPI_tuptable; returns
    // the number of rows.
    uint64_t execute_into(Statement statement, const Datum* values, const char* nulls, int columns,
                          RowSink& sink);
    void finish();

    // Columns (1-based) of the rows (0-based) of the last result. Reading a
    // row the last statement did not return raises an internal error rather
    // than reading past the result: callers check the row count first
    // wherever a statement may legitimately return fewer rows.
    int64_t int64_at(uint64_t row, int column);
    bool bool_at(uint64_t row, int column);
    // A text column, copied out of SPI memory, which lasts one statement.
    std::optional<std::string> text_at(uint64_t row, int column);
    // The same without a copy: valid until the next statement, free_result()
    // or finish().
    SqlText text_view_at(uint64_t row, int column);
    // Frees the last result early, once it has been read.
    void free_result();

private:
    Datum value_at(uint64_t row, int column, bool* isnull);

    Oid nsp_;
    Statement last_ = Statement::Count_;
    uint64_t rows_ = 0;
};

// Whether the extension's table `table` has a BEFORE INSERT row trigger:
// the only way an INSERT of ours records nothing without a conflict.
bool has_before_insert_trigger(Oid nsp, const char* table);

// Called from the namespace syscache callback: plans are rebuilt on next use.
void invalidate_plans();

// Called from the pg_proc syscache callback.
void invalidate_function_namespace();

}  // namespace po::pg
