// SPI access: the one way the extension reads the results of its statements
// (SpiResult), keeps their plans (KeptPlan), and runs its own statements on
// the offset tables (SpiConnection), one kept plan per statement and
// backend, naming every object by schema.
#pragma once

#include <cstdint>

#include "guard.hpp"

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

// The rows a statement left in SPI_tuptable. SPI_tuptable and SPI_processed
// belong to whatever statement ran last, so a result is taken at once
// after its statement, and values are read only within the row count SPI
// reported and the result's columns: anything else raises the internal
// error "unexpected result of <what>". The table lasts until SPI_finish,
// free(), or the end of the subtransaction that made it. Rows are 0-based,
// columns 1-based; a NULL reads as nullopt.
class SpiResult {
public:
    SpiResult() = default;
    // The result of the SPI call that just returned; what names the
    // statement in errors and must outlive the result.
    static SpiResult last(const char* what) noexcept;

    uint64_t rows() const { return rows_; }
    // Raises the internal error unless the result has `columns` columns
    // and at most `most` rows (an empty result passes).
    void expect(int columns, uint64_t most = UINT64_MAX) const;
    // The internal error, naming the row and column when column is not 0.
    [[noreturn]] void unexpected(uint64_t row = 0, int column = 0) const;

    std::optional<int64_t> int64_at(uint64_t row, int column) const;
    std::optional<int32_t> int32_at(uint64_t row, int column) const;
    std::optional<bool> bool_at(uint64_t row, int column) const;
    std::optional<Oid> oid_at(uint64_t row, int column) const;
    std::optional<TimestampTz> timestamp_at(uint64_t row, int column) const;
    // A text column, copied out of the result.
    std::optional<std::string> text_at(uint64_t row, int column) const;
    // The datum in place (jsonb, arrays): valid while the result lasts.
    std::optional<Datum> datum_at(uint64_t row, int column) const;
    // The same copied into the current memory context, for a value that
    // must outlive the result.
    std::optional<Datum> datum_copy_at(uint64_t row, int column) const;

    // Frees the table early, once it has been read.
    void free();

private:
    SPITupleTable* table_ = nullptr;
    uint64_t rows_ = 0;
    const char* what_ = "";
};

// A statement prepared once and kept (SPI_keepplan) until reset();
// PostgreSQL revalidates the plan when the objects it names change.
// Destroying it frees nothing: a plan is freed only by reset(), when no
// call is running it.
class KeptPlan {
public:
    KeptPlan() = default;
    KeptPlan(const KeptPlan&) = delete;
    KeptPlan& operator=(const KeptPlan&) = delete;

    bool ready() const { return plan_ != nullptr; }
    SPIPlanPtr plan() const { return plan_; }
    // Prepares and keeps the plan, freeing any previous one; SPI must be
    // connected. what names the statement in the errors of its results;
    // expected is the SPI_OK_* code its runs must return (0: any success).
    void prepare(const std::string& sql, int nargs, const Oid* types,
                 const char* what = "a statement of projection_offset", int expected = 0);
    // Frees the plan.
    void reset();
    // Gives the plan up to the caller, who frees it with SPI_freeplan.
    SPIPlanPtr release();
    // Runs the plan, read-write, with at most `limit` rows (0: all).
    SpiResult run(const Datum* values, const char* nulls, long limit = 0) const;

private:
    SPIPlanPtr plan_ = nullptr;
    const char* what_ = "";
    int expected_ = 0;
};

// The next `count` rows of a cursor, read as the result of what.
SpiResult fetch(Portal portal, long count, const char* what);

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

    // Runs a statement; its rows are read from the result.
    SpiResult execute(Statement statement, const Datum* values, const char* nulls, long limit = 0);
    // Runs a statement whose `columns` columns go to sink row by row
    // (after a check for interrupts) instead of into SPI_tuptable; returns
    // the number of rows.
    uint64_t execute_into(Statement statement, const Datum* values, const char* nulls, int columns,
                          RowSink& sink);
    void finish();

private:
    Oid nsp_;
};

// Whether the extension's table `table` has a BEFORE INSERT row trigger:
// the only way an INSERT of ours records nothing without a conflict.
bool has_before_insert_trigger(Oid nsp, const char* table);

// Called from the namespace syscache callback: plans are rebuilt on next use.
void invalidate_plans();

// Called from the pg_proc syscache callback.
void invalidate_function_namespace();

}  // namespace po::pg
