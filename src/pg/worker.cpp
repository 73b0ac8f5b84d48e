// The projection worker: a background worker per database, started by the
// launcher (worker_launcher.cpp), that applies
// each async (and, after a pause or a rebuild, inline) handler's new events
// from its source in position order, through apply_with_offset_batch.
//
// No event is skipped, whatever the order in which appending transactions
// commit. The worker applies a handler's events only up to a safe position:
//   1. it reads M, the highest position visible in a new snapshot;
//   2. then it lists the transactions that hold a lock on the source (or a
//      partition of it) that conflicts with SHARE: its writers (VACUUM and
//      autovacuum aside, which never insert);
//   3. once every one of them has ended, every position <= M is final.
// A position p <= M was drawn from the sequence (CACHE 1, in the statement
// that inserts the event) no later than M. Its transaction took
// RowExclusiveLock on the source before drawing p and keeps it until it
// ends. M was committed before the list was made, so that transaction had
// either ended by then or is on the list. A rolled-back transaction's gap
// is final once it ends; nothing ever waits for a gap to fill.
//
// Each batch is one transaction: the events, their offsets and the
// handler's cursor commit together, so a crash at any point loses or
// repeats nothing (a repeat would meet its offsets anyway).
#include <algorithm>

#include "spi.hpp"
#include "worker_shmem.hpp"
#include "worker_spi.hpp"
#include "../core/worker_policy.hpp"

extern "C" {
#include "postmaster/interrupt.h"
#include "utils/guc.h"
#include "utils/wait_event.h"

PGDLLEXPORT void po_projection_worker_main(Datum main_arg);
}

namespace po::pg::worker {

namespace {

constexpr int64_t kBeforeFirst = PG_INT64_MIN;  // the cursor of a handler with none
constexpr int kWriterPollCeilingMs = 64;

// The worker's own statements, on the extension's tables.
struct OwnPlans {
    Oid nsp = InvalidOid;
    KeptPlan list, read, lock, progress, behind, park, resolve, handler_error;
};

// A handler's registration and progress, as read at the start of a step.
struct Handler {
    std::string name, projector, state;
    Oid source = InvalidOid, run_as = InvalidOid;
    std::string id_column, type_column, payload_column, position_column;
    std::optional<Datum> event_types;  // text[] in the step's memory
    bool dead_letter = false;
    int max_attempts = 1, batch_size = 500;
    std::optional<int64_t> position, rebuild_target;
    std::optional<TimestampTz> behind_since, next_attempt_at, first_failure;
    std::optional<std::string> error_event;
    std::optional<int64_t> error_position;
    int attempts = 0;
};

// The plans that read a handler's source, built for one configuration.
struct SourcePlans {
    std::string key;
    KeptPlan max_position, apply, peek;
};

// What the worker remembers of a handler between steps.
struct Memory {
    bool pending = false;      // a safe position is being established
    int64_t pending_max = 0;   // M
    std::vector<VirtualTransactionId> writers;
    TimestampTz observed_at = 0;
    TimestampTz error_retry_at = 0;  // after an error outside any event
    SourcePlans plans;
};

struct StepResult {
    bool progressed = false;
    bool waiting_for_writers = false;
    TimestampTz wake_at = 0;  // a retry is due then
};

OwnPlans own;
std::unordered_map<std::string, Memory>* memory = nullptr;
MemoryContext step_context = nullptr;

// The extension's schema in this database, or InvalidOid when it is not
// installed there (or predates the registry).
Oid extension_schema() {
    static KeptPlan* find = nullptr;
    if (find == nullptr) {
        find = new KeptPlan();
        find->prepare("SELECT e.extnamespace FROM pg_catalog.pg_extension e"
                      " WHERE e.extname OPERATOR(pg_catalog.=) 'projection_offset'",
                      0, nullptr);
    }
    const SpiResult found = find->run(nullptr, nullptr, 1);
    if (found.rows() != 1) return InvalidOid;
    const Oid nsp = found.oid_at(0, 1).value_or(InvalidOid);
    const bool has_registry = pg_call(
        [nsp]() noexcept { return OidIsValid(get_relname_relid("projection_offset_handler", nsp)); });
    return has_registry ? nsp : InvalidOid;
}

void prepare_own(Oid nsp) {
    if (own.nsp == nsp && own.list.ready()) return;
    own.nsp = nsp;
    const std::string nspname = quoted_schema(nsp);
    const std::string h = nspname + ".projection_offset_handler";
    const std::string dl = nspname + ".projection_offset_dead_letter";
    const std::string columns =
        "SELECT projector, source::pg_catalog.oid, id_column, type_column, payload_column, position_column,"
        " event_types, on_error, max_attempts, batch_size, run_as::pg_catalog.oid, state, \"position\","
        " rebuild_target, behind_since, next_attempt_at, error_event, attempts,"
        " (last_error OPERATOR(pg_catalog.->>) 'first_failure')::pg_catalog.timestamptz, error_position"
        " FROM " + h + " WHERE handler_name OPERATOR(pg_catalog.=) $1";
    const Oid text1[] = {TEXTOID};
    own.list.prepare("SELECT handler_name FROM " + h +
                         " WHERE state OPERATOR(pg_catalog.=) ANY ('{running,rebuilding}'::pg_catalog.text[])"
                         " ORDER BY handler_name",
                     0, nullptr);
    own.read.prepare(columns, 1, text1);
    own.lock.prepare(columns + " FOR NO KEY UPDATE SKIP LOCKED", 1, text1);
    const Oid progress_types[] = {TEXTOID,        INT8OID, TIMESTAMPTZOID, TEXTOID, TEXTOID, INT8OID,
                                  INT4OID,        TIMESTAMPTZOID, BOOLOID,  TEXTOID, TEXTOID, TEXTOID,
                                  TEXTOID,        TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID};
    own.progress.prepare(
        "UPDATE " + h +
            " SET \"position\" = $2, behind_since = $3, state = $4, error_event = $5, error_position = $6,"
            " attempts = $7, next_attempt_at = $8,"
            " last_error = CASE WHEN $9 THEN pg_catalog.jsonb_build_object('event_id', $17, 'sqlstate', $10,"
            "   'message', $11, 'detail', $12, 'hint', $13, 'context', $14, 'at', $15, 'first_failure', $16)"
            "   ELSE last_error END"
            " WHERE handler_name OPERATOR(pg_catalog.=) $1",
        17, progress_types);
    const Oid behind_types[] = {TEXTOID, TIMESTAMPTZOID};
    own.behind.prepare("UPDATE " + h + " SET behind_since = $2 WHERE handler_name OPERATOR(pg_catalog.=) $1"
                                       " AND behind_since IS NULL",
                       2, behind_types);
    const Oid park_types[] = {TEXTOID, TEXTOID, INT8OID, TEXTOID, TEXTOID, TEXTOID,
                              TEXTOID, TEXTOID, INT4OID, TIMESTAMPTZOID, TIMESTAMPTZOID};
    own.park.prepare(
        "INSERT INTO " + dl +
            " (handler_name, event_id, \"position\", sqlstate, message, detail, hint, context, attempts,"
            "  first_failure, last_failure) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            " ON CONFLICT (handler_name, event_id) DO UPDATE SET \"position\" = EXCLUDED.\"position\","
            " sqlstate = EXCLUDED.sqlstate, message = EXCLUDED.message, detail = EXCLUDED.detail,"
            " hint = EXCLUDED.hint, context = EXCLUDED.context, attempts = EXCLUDED.attempts,"
            " last_failure = EXCLUDED.last_failure",
        11, park_types);
    // The stored signature resolved as the registry does, with the path
    // pinned to pg_catalog.
    own.resolve.prepare("SELECT " + nspname + "._projection_offset_projector($1)::pg_catalog.oid", 1, text1);
    const Oid error_types[] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
    own.handler_error.prepare(
        "UPDATE " + h +
            " SET next_attempt_at = $8, last_error = pg_catalog.jsonb_build_object('event_id', NULL::pg_catalog.text,"
            "  'sqlstate', $2, 'message', $3, 'detail', $4, 'hint', $5, 'context', $6, 'at', $7, 'first_failure', $7)"
            " WHERE handler_name OPERATOR(pg_catalog.=) $1",
        8, error_types);
}

void reset_own() {
    for (KeptPlan* p : {&own.list, &own.read, &own.lock, &own.progress, &own.behind, &own.park, &own.resolve,
                        &own.handler_error})
        p->reset();
    own.nsp = InvalidOid;
}

Handler read_handler(const std::string& name, bool lock, bool* found) {
    Handler h;
    h.name = name;
    Datum arg = text_datum(name);
    const SpiResult r = (lock ? own.lock : own.read).run(&arg, nullptr, 1);
    *found = r.rows() == 1;
    if (!*found) return h;
    h.projector = r.text_at(0, 1).value_or("");
    h.source = r.oid_at(0, 2).value_or(InvalidOid);
    h.id_column = r.text_at(0, 3).value_or("");
    h.type_column = r.text_at(0, 4).value_or("");
    h.payload_column = r.text_at(0, 5).value_or("");
    h.position_column = r.text_at(0, 6).value_or("");
    h.event_types = r.datum_copy_at(0, 7);
    h.dead_letter = r.text_at(0, 8).value_or("stop") == "dead_letter";
    h.max_attempts = r.int32_at(0, 9).value_or(1);
    h.batch_size = r.int32_at(0, 10).value_or(500);
    h.run_as = r.oid_at(0, 11).value_or(InvalidOid);
    h.state = r.text_at(0, 12).value_or("");
    h.position = r.int64_at(0, 13);
    h.rebuild_target = r.int64_at(0, 14);
    h.behind_since = r.timestamp_at(0, 15);
    h.next_attempt_at = r.timestamp_at(0, 16);
    h.error_event = r.text_at(0, 17);
    h.attempts = r.int32_at(0, 18).value_or(0);
    h.first_failure = r.timestamp_at(0, 19);
    h.error_position = r.int64_at(0, 20);
    return h;
}

// The source's statements for this handler's configuration, prepared as
// the worker's own role; they run as the handler's. Returns whether they
// were (re)built.
bool prepare_source(const Handler& h, SourcePlans& plans) {
    const std::string key = std::to_string(h.source) + '\x1f' + h.id_column + '\x1f' + h.type_column + '\x1f' +
                            h.payload_column + '\x1f' + h.position_column + '\x1f' +
                            (h.event_types ? "t" : "f") + '\x1f' + std::to_string(own.nsp);
    if (plans.key == key && plans.apply.ready()) return false;
    plans.key.clear();
    const Oid source = h.source;
    const char* relation = pg_call([source]() noexcept -> const char* {
        const char* rel = get_rel_name(source);
        if (rel == nullptr)
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("source relation with OID %u does not exist", source)));
        return quote_qualified_identifier(get_namespace_name(get_rel_namespace(source)), rel);
    });
    const std::string nspname = quoted_schema(own.nsp);
    const std::string pos = "e." + quoted_identifier(h.position_column);
    const std::string where = " FROM " + std::string(relation) + " e WHERE " + pos + " OPERATOR(pg_catalog.>) $1 AND " +
                              pos + " OPERATOR(pg_catalog.<=) $2" +
                              (h.event_types ? " AND CAST(e." + quoted_identifier(h.type_column) +
                                                   " AS pg_catalog.text) OPERATOR(pg_catalog.=) ANY ($5)"
                                             : std::string()) +
                              " ORDER BY " + pos + " LIMIT $3";
    const std::string id = "CAST(e." + quoted_identifier(h.id_column) + " AS pg_catalog.text)";
    const std::string position = "CAST(" + pos + " AS pg_catalog.int8)";
    const Oid types[] = {INT8OID, INT8OID, INT8OID, TEXTOID, TEXTARRAYOID, REGPROCEDUREOID};
    plans.max_position.prepare("SELECT CAST(pg_catalog.max(" + pos + ") AS pg_catalog.int8) FROM " +
                                   std::string(relation) + " e",
                               0, nullptr);
    // The batch in a CTE, so that the events are read once, in order.
    plans.apply.prepare(
        "WITH ev AS (SELECT " + id + " AS event_id, e." + quoted_identifier(h.payload_column) + " AS payload, " +
            position + " AS pos" + where +
            ") SELECT pg_catalog.count(*), pg_catalog.max(ev.pos),"
            " CASE WHEN pg_catalog.count(*) OPERATOR(pg_catalog.>) 0 THEN " + nspname +
            ".apply_with_offset_batch($4, $6, pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object("
            "'event_id', ev.event_id, 'payload', ev.payload, 'position', ev.pos) ORDER BY ev.pos)) END FROM ev",
        6, types);
    plans.peek.prepare("SELECT " + id + ", " + position + where, 5, types);
    plans.key = key;
    return true;
}

// The transactions writing to the source (or a partition of it) now.
std::vector<VirtualTransactionId> source_writers(Oid source) {
    struct Found {
        VirtualTransactionId* vxids;
        int count;
    };
    const Found found = pg_call([source]() noexcept {
        int running_count = 0;
        // Every transaction of this database but VACUUM's: VACUUM and
        // ANALYZE take a conflicting lock and never insert.
        VirtualTransactionId* running =
            GetCurrentVirtualXIDs(InvalidTransactionId, false, false, PROC_IS_AUTOVACUUM | PROC_IN_VACUUM, &running_count);
        List* relations = find_all_inheritors(source, NoLock, nullptr);
        VirtualTransactionId* out = static_cast<VirtualTransactionId*>(palloc(sizeof(VirtualTransactionId) * (running_count + 1)));
        int count = 0;
        ListCell* cell;
        foreach (cell, relations) {
            LOCKTAG tag;
            SET_LOCKTAG_RELATION(tag, MyDatabaseId, lfirst_oid(cell));
            int conflict_count = 0;
            VirtualTransactionId* conflicts = GetLockConflicts(&tag, ShareLock, &conflict_count);
            for (int i = 0; i < conflict_count; i++) {
                bool keep = false;
                for (int j = 0; j < running_count && !keep; j++)
                    keep = VirtualTransactionIdEquals(conflicts[i], running[j]);
                for (int j = 0; j < count && keep; j++)
                    if (VirtualTransactionIdEquals(conflicts[i], out[j])) keep = false;
                if (keep && count < running_count) out[count++] = conflicts[i];
            }
        }
        return Found{out, count};
    });
    return std::vector<VirtualTransactionId>(found.vxids, found.vxids + found.count);
}

// Drops the writers that have ended; true when none is left.
bool writers_ended(std::vector<VirtualTransactionId>& writers) {
    std::vector<VirtualTransactionId> left;
    for (const VirtualTransactionId& vxid : writers) {
        const VirtualTransactionId v = vxid;
        if (!pg_call([v]() noexcept { return VirtualXactLock(v, false); })) left.push_back(vxid);
    }
    writers.swap(left);
    return writers.empty();
}

TimestampTz now() {
    return pg_call([]() noexcept { return GetCurrentTimestamp(); });
}

Oid resolve_projector(const Handler& h) {
    Datum arg = text_datum(h.projector);
    const SpiResult r = own.resolve.run(&arg, nullptr, 1);
    const std::optional<Oid> oid = r.rows() == 1 ? r.oid_at(0, 1) : std::nullopt;
    if (!oid) {
        const char* name = h.projector.c_str();
        pg_call([name]() noexcept {
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_FUNCTION), errmsg("projector %s does not exist", name)));
        });
    }
    return *oid;
}

struct Batch {
    uint64_t rows = 0;
    int64_t last_position = 0;
};

// Applies the events in (after, upto], at most `limit` of them, as the
// handler's role.
Batch apply(const Handler& h, SourcePlans& plans, Oid projector, int64_t after, int64_t upto, int64_t limit) {
    Datum values[6] = {Int64GetDatum(after), Int64GetDatum(upto), Int64GetDatum(limit), text_datum(h.name),
                       h.event_types.value_or(0), ObjectIdGetDatum(projector)};
    const char nulls[6] = {' ', ' ', ' ', ' ', h.event_types ? ' ' : 'n', ' '};
    RunAs role(h.run_as);
    const SpiResult r = plans.apply.run(values, nulls, 1);
    Batch batch;
    if (r.rows() == 1) {
        batch.rows = static_cast<uint64_t>(r.int64_at(0, 1).value_or(0));
        batch.last_position = r.int64_at(0, 2).value_or(upto);
    }
    role.restore();
    return batch;
}

struct Event {
    std::string id;
    int64_t position;
};

std::vector<Event> peek(const Handler& h, SourcePlans& plans, int64_t after, int64_t upto) {
    Datum values[5] = {Int64GetDatum(after), Int64GetDatum(upto), Int64GetDatum(h.batch_size), text_datum(h.name),
                       h.event_types.value_or(0)};
    const char nulls[5] = {' ', ' ', ' ', ' ', h.event_types ? ' ' : 'n'};
    RunAs role(h.run_as);
    const SpiResult r = plans.peek.run(values, nulls);
    std::vector<Event> events;
    for (uint64_t i = 0; i < r.rows(); i++) {
        check_for_interrupts();
        events.push_back(Event{r.text_at(i, 1).value_or(""), r.int64_at(i, 2).value_or(0)});
    }
    role.restore();
    return events;
}

// Errors that say nothing about the event: the step is abandoned and
// retried, without counting an attempt against the event.
bool transient(const ErrorData* e) {
    // A statement timeout is the event's: its projector takes too long.
    if (e->sqlerrcode == ERRCODE_QUERY_CANCELED) return false;
    switch (ERRCODE_TO_CATEGORY(e->sqlerrcode)) {
        case ERRCODE_TO_CATEGORY(ERRCODE_TRANSACTION_ROLLBACK):     // 40: serialization, deadlock
        case ERRCODE_TO_CATEGORY(ERRCODE_INSUFFICIENT_RESOURCES):   // 53
        case ERRCODE_TO_CATEGORY(ERRCODE_OPERATOR_INTERVENTION):    // 57: cancel, shutdown
        case ERRCODE_TO_CATEGORY(ERRCODE_SYSTEM_ERROR):             // 58
        case ERRCODE_TO_CATEGORY(ERRCODE_INTERNAL_ERROR): return true;  // XX
        default: return false;
    }
}

std::optional<std::string> optional_text(const char* s) {
    if (s == nullptr) return std::nullopt;
    return std::string(s);
}

// An error that ended a step, copied out of the transaction's memory
// before the transaction is rolled back.
struct ErrorCopy {
    int code = ERRCODE_INTERNAL_ERROR;
    std::string sqlstate, message;
    std::optional<std::string> detail, hint, context;
};

ErrorCopy copy_error(const ErrorData* e) {
    ErrorCopy c;
    if (e == nullptr) {
        c.sqlstate = "XX000";
        c.message = "out of memory while copying an error";
        return c;
    }
    c.code = e->sqlerrcode;
    const int code = e->sqlerrcode;
    c.sqlstate = pg_call([code]() noexcept { return unpack_sql_state(code); });
    c.message = e->message ? e->message : "";
    c.detail = optional_text(e->detail);
    c.hint = optional_text(e->hint);
    c.context = optional_text(e->context);
    return c;
}

// The error's context without its last line, the worker's own batch
// statement, which says nothing the handler's name does not.
std::optional<std::string> event_context(const std::optional<std::string>& context) {
    if (!context) return std::nullopt;
    std::string text(*context);
    const size_t own_statement = text.find("\nSQL statement \"WITH ev AS (");
    if (own_statement != std::string::npos) text.erase(own_statement);
    return text;
}

// The five parameters sqlstate, message, detail, hint and context of a
// statement that records an error, from values[0] and nulls[0] on; the
// context of an event's error without the worker's own statement.
void put_error(const ErrorCopy& e, bool event_error, Datum* values, char* nulls) {
    const std::optional<std::string> context = event_error ? event_context(e.context) : e.context;
    const std::optional<std::string>* optional[3] = {&e.detail, &e.hint, &context};
    values[0] = text_datum(e.sqlstate);
    values[1] = text_datum(e.message);
    nulls[0] = nulls[1] = ' ';
    for (int i = 0; i < 3; i++) {
        values[2 + i] = *optional[i] ? text_datum(**optional[i]) : Datum(0);
        nulls[2 + i] = *optional[i] ? ' ' : 'n';
    }
}

// The handler's row after a step: progress and error fields.
struct Outcome {
    std::optional<int64_t> position;
    std::optional<TimestampTz> behind_since;
    std::string state;
    std::optional<std::string> error_event;
    std::optional<int64_t> error_position;
    int attempts = 0;
    std::optional<TimestampTz> next_attempt_at;
    std::optional<ErrorCopy> error;  // a new last_error, about error_for
    std::optional<std::string> error_for;
    TimestampTz error_at = 0, first_failure = 0;
};

void write_outcome(const Handler& h, const Outcome& o) {
    auto text_or_null = [](const std::optional<std::string>& s) { return s ? text_datum(*s) : Datum(0); };
    Datum values[17] = {text_datum(h.name),
                        Int64GetDatum(o.position.value_or(0)),
                        TimestampTzGetDatum(o.behind_since.value_or(0)),
                        text_datum(o.state),
                        text_or_null(o.error_event),
                        Int64GetDatum(o.error_position.value_or(0)),
                        Int32GetDatum(o.attempts),
                        TimestampTzGetDatum(o.next_attempt_at.value_or(0)),
                        BoolGetDatum(o.error.has_value()),
                        0, 0, 0, 0, 0,  // the error's fields, below
                        TimestampTzGetDatum(o.error_at),
                        TimestampTzGetDatum(o.first_failure),
                        text_or_null(o.error_for)};
    char nulls[18] = "                 ";
    if (o.error)
        put_error(*o.error, true, &values[9], &nulls[9]);
    else
        memset(&nulls[9], 'n', 5);
    if (!o.position) nulls[1] = 'n';
    if (!o.behind_since) nulls[2] = 'n';
    if (!o.error_event) nulls[4] = 'n';
    if (!o.error_position) nulls[5] = 'n';
    if (!o.next_attempt_at) nulls[7] = 'n';
    if (!o.error) nulls[14] = nulls[15] = 'n';
    if (!o.error_for) nulls[16] = 'n';
    own.progress.run(values, nulls);
}

void park(const Handler& h, const Event& event, const ErrorCopy& e, int attempts, TimestampTz first, TimestampTz last) {
    Datum values[11] = {text_datum(h.name), text_datum(event.id), Int64GetDatum(event.position), 0, 0, 0, 0, 0,
                        Int32GetDatum(attempts), TimestampTzGetDatum(first), TimestampTzGetDatum(last)};
    char nulls[12] = "           ";
    put_error(e, true, &values[3], &nulls[3]);
    own.park.run(values, nulls);
}

// After a batch failed: the events one at a time, each in its own
// subtransaction, up to the first that fails, which is charged an attempt
// and then retried later, parked or made the handler's stopping point.
void apply_one_by_one(const Handler& h, SourcePlans& plans, Oid projector, int64_t safe, Outcome& o) {
    const int64_t start = o.position.value_or(kBeforeFirst);
    const std::vector<Event> events = peek(h, plans, start, safe);
    int64_t cursor = start;
    for (const Event& event : events) {
        check_for_interrupts();
        ErrorData* e = in_subtransaction([&] { apply(h, plans, projector, cursor, event.position, 1); });
        if (e == nullptr) {
            cursor = event.position;
            if (o.error_event && *o.error_event == event.id) {
                o.error_event.reset();
                o.error_position.reset();
                o.attempts = 0;
                o.next_attempt_at.reset();
            }
            continue;
        }
        if (transient(e)) throw PgError(e);
        const TimestampTz at = now();
        const bool same = o.error_event && *o.error_event == event.id;
        const int attempts = same ? o.attempts + 1 : 1;
        const TimestampTz first = same && h.first_failure ? *h.first_failure : at;
        o.error = copy_error(e);
        o.error_for = event.id;
        o.error_at = at;
        o.first_failure = first;
        switch (on_failure(attempts, h.max_attempts, h.dead_letter)) {
            case FailureAction::Park:
                park(h, event, *o.error, attempts, first, at);
                cursor = event.position;
                o.error_event.reset();
                o.error_position.reset();
                o.attempts = 0;
                o.next_attempt_at.reset();
                continue;
            case FailureAction::Stop: o.state = "stopped"; break;
            case FailureAction::Retry:
                o.next_attempt_at = at + retry_backoff_ms(attempts) * INT64CONST(1000);
                break;
        }
        o.error_event = event.id;
        o.error_position = event.position;
        o.attempts = attempts;
        o.position = cursor == kBeforeFirst ? o.position : std::optional<int64_t>(cursor);
        return;
    }
    const int64_t last = events.empty() ? safe : events.back().position;
    const int64_t reached = cursor_after_batch(safe, events.size(), h.batch_size, last);
    o.position = reached == kBeforeFirst ? o.position : std::optional<int64_t>(reached);
}

void set_replaying(bool on) {
    pg_call([on]() noexcept {
        (void)set_config_option("projection_offset.replaying", on ? "on" : "off", PGC_USERSET, PGC_S_SESSION,
                                GUC_ACTION_LOCAL, true, 0, false);
    });
}

// One step of one handler, in the current transaction.
StepResult step(const std::string& name, Memory& m) {
    StepResult result;
    bool found = false;
    Handler h = read_handler(name, false, &found);
    if (!found || (h.state != "running" && h.state != "rebuilding")) return result;
    const TimestampTz start = now();
    if (h.next_attempt_at && *h.next_attempt_at > start) {
        result.wake_at = *h.next_attempt_at;
        return result;
    }
    if (m.error_retry_at > start) {
        result.wake_at = m.error_retry_at;
        return result;
    }
    // Another source or configuration: what was known of the old one goes.
    if (prepare_source(h, m.plans)) m.pending = false;
    const int64_t cursor = h.position.value_or(kBeforeFirst);

    if (!m.pending) {
        RunAs role(h.run_as);
        const SpiResult r = m.plans.max_position.run(nullptr, nullptr, 1);
        const std::optional<int64_t> max = r.rows() == 1 ? r.int64_at(0, 1) : std::nullopt;
        role.restore();
        const int64_t max_position = max.value_or(kBeforeFirst);
        const bool nothing_new = !max || max_position <= cursor;
        if (nothing_new && !h.behind_since && h.state != "rebuilding") return result;
        if (!nothing_new) {
            m.pending = true;
            m.pending_max = max_position;
            m.writers = source_writers(h.source);
            m.observed_at = start;
        }
    }
    if (m.pending && !writers_ended(m.writers)) {
        result.waiting_for_writers = true;
        // Once marked, the handler row read at the start of the step says so.
        if (!h.behind_since) {
            Datum values[2] = {text_datum(name), TimestampTzGetDatum(m.observed_at)};
            own.behind.run(values, nullptr);
        }
        return result;
    }

    // Events up to m.pending_max are final: apply the next batch of them.
    h = read_handler(name, true, &found);
    if (!found || (h.state != "running" && h.state != "rebuilding")) return result;
    const int64_t from = h.position.value_or(kBeforeFirst);
    const int64_t safe = m.pending ? m.pending_max : from;
    Outcome o;
    o.position = h.position;
    o.behind_since = h.behind_since;
    o.state = h.state;
    o.error_event = h.error_event;
    o.error_position = h.error_position;
    o.attempts = h.attempts;
    o.next_attempt_at = h.next_attempt_at;
    if (safe > from) {
        const Oid projector = resolve_projector(h);
        if (h.state == "rebuilding") set_replaying(true);
        Batch batch;
        ErrorData* e = in_subtransaction([&] { batch = apply(h, m.plans, projector, from, safe, h.batch_size); });
        if (e == nullptr) {
            const int64_t reached = cursor_after_batch(safe, batch.rows, h.batch_size, batch.last_position);
            o.position = reached;
            if (o.error_event) {
                o.error_event.reset();
                o.error_position.reset();
                o.attempts = 0;
                o.next_attempt_at.reset();
            }
        } else {
            if (transient(e)) throw PgError(e);
            apply_one_by_one(h, m.plans, projector, safe, o);
        }
        if (h.state == "rebuilding") set_replaying(false);
    }
    const int64_t reached = o.position.value_or(kBeforeFirst);
    const bool caught_up = !m.pending || reached >= m.pending_max;
    if (caught_up) {
        m.pending = false;
        o.behind_since.reset();
    } else if (!o.behind_since) {
        o.behind_since = m.observed_at;
    }
    // A rebuild ends at its target, or once nothing more is final.
    if (o.state == "rebuilding" && (caught_up || !h.rebuild_target || reached >= *h.rebuild_target))
        o.state = "running";
    // Progress: look again at once, for the rest of the batch or newer events.
    result.progressed = o.state != "stopped" && (o.position != h.position || o.state != h.state);
    if (o.next_attempt_at) result.wake_at = *o.next_attempt_at;
    write_outcome(h, o);
    return result;
}

// Transactions around the steps.
void start_transaction() {
    pg_call([]() noexcept {
        SetCurrentStatementStartTimestamp();
        StartTransactionCommand();
        if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "SPI_connect failed");
        PushActiveSnapshot(GetTransactionSnapshot());
    });
}

void commit_transaction() {
    pg_call([]() noexcept {
        PopActiveSnapshot();
        SPI_finish();
        CommitTransactionCommand();
        MemoryContextSwitchTo(step_context);
    });
}

// Rolls back everything a step did and logs the error that ended it.
void abandon_step(const ErrorCopy& e, const std::string& handler) {
    const char* name = handler.c_str();
    pg_call([&e, name]() noexcept {
        AbortOutOfAnyTransaction();
        MemoryContextSwitchTo(step_context);
        ereport(LOG, (errcode(e.code), errmsg("projection worker: handler \"%s\": %s", name, e.message.c_str()),
                      e.detail ? errdetail_internal("%s", e.detail->c_str()) : 0,
                      e.context ? errcontext("%s", e.context->c_str()) : 0));
    });
}

// Records an error outside any event (a missing source or projector, a
// dropped role) on the handler, so that its status shows it.
void record_handler_error(const std::string& name, const ErrorCopy& e, TimestampTz retry_at) {
    try {
        start_transaction();
        const TimestampTz at = now();
        Datum values[8] = {text_datum(name), 0, 0, 0, 0, 0, TimestampTzGetDatum(at), TimestampTzGetDatum(retry_at)};
        char nulls[9] = "        ";
        put_error(e, false, &values[1], &nulls[1]);
        own.handler_error.run(values, nulls);
        commit_transaction();
    } catch (const PgError& again) {
        abandon_step(copy_error(again.data()), name);
    }
}

std::vector<std::string> list_handlers() {
    std::vector<std::string> names;
    const SpiResult r = own.list.run(nullptr, nullptr);
    for (uint64_t i = 0; i < r.rows(); i++) {
        check_for_interrupts();
        names.push_back(r.text_at(i, 1).value_or(""));
    }
    return names;
}

// One pass over every handler. Returns how long to sleep, in ms (0: none).
long pass() {
    long sleep_ms = worker_naptime();
    std::vector<std::string> names;
    try {
        start_transaction();
        const Oid nsp = extension_schema();
        if (!OidIsValid(nsp)) {
            commit_transaction();
            reset_own();
            memory->clear();
            return sleep_ms;
        }
        prepare_own(nsp);
        names = list_handlers();
        // Forget handlers that are gone or no longer need the worker.
        for (auto it = memory->begin(); it != memory->end();) {
            if (std::find(names.begin(), names.end(), it->first) == names.end()) {
                it->second.plans.apply.reset();
                it->second.plans.peek.reset();
                it->second.plans.max_position.reset();
                it = memory->erase(it);
            } else {
                ++it;
            }
        }
        commit_transaction();
    } catch (const PgError& e) {
        abandon_step(copy_error(e.data()), "(all)");
        reset_own();
        return 1000;
    }
    static int writer_poll_ms = 0;
    bool waiting = false;
    for (const std::string& name : names) {
        check_for_interrupts();
        Memory& m = (*memory)[name];
        StepResult r;
        try {
            pg_call([]() noexcept { MemoryContextReset(step_context); });
            start_transaction();
            pgstat_report_activity(STATE_RUNNING, name.c_str());
            r = step(name, m);
            commit_transaction();
        } catch (const PgError& e) {
            const ErrorCopy error = copy_error(e.data());
            abandon_step(error, name);
            m.pending = false;
            m.plans.key.clear();
            const TimestampTz retry_at = now() + INT64CONST(1000) * 1000;
            m.error_retry_at = retry_at;
            record_handler_error(name, error, retry_at);
            r.wake_at = retry_at;
        }
        if (r.progressed) sleep_ms = 0;
        if (r.waiting_for_writers) waiting = true;
        if (r.wake_at) {
            const long until = static_cast<long>((r.wake_at - now()) / 1000);
            sleep_ms = std::max(0L, std::min(sleep_ms, until));
        }
    }
    pg_call([]() noexcept { pgstat_report_activity(STATE_IDLE, nullptr); });
    if (waiting) {
        writer_poll_ms = next_writer_poll_ms(sleep_ms == 0 ? 0 : writer_poll_ms, kWriterPollCeilingMs);
        sleep_ms = std::min<long>(sleep_ms, writer_poll_ms);
    } else {
        writer_poll_ms = 0;
    }
    return sleep_ms;
}

void run(int slot) {
    memory = new std::unordered_map<std::string, Memory>();
    pg_call([slot]() noexcept {
        worker_publish(slot);
        step_context = AllocSetContextCreate(TopMemoryContext, "projection_offset worker step", ALLOCSET_DEFAULT_SIZES);
        MemoryContextSwitchTo(step_context);
        ereport(LOG, (errmsg("projection worker started for database \"%s\"", MyBgworkerEntry->bgw_extra)));
    });
    for (;;) {
        worker_wake_up();
        const long sleep_ms = pass();
        if (sleep_ms > 0) worker_nap(sleep_ms);
    }
}

}  // namespace

}  // namespace po::pg::worker

static void withdraw_at_exit(int, Datum slot) { po::pg::worker_withdraw(DatumGetInt32(slot)); }

// Started by the launcher (worker_launcher.cpp) with the slot of its
// database in main_arg and the database's name in bgw_extra.
extern "C" void po_projection_worker_main(Datum main_arg) {
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    pqsignal(SIGTERM, die);
    BackgroundWorkerUnblockSignals();
    const int slot = DatumGetInt32(main_arg);
    before_shmem_exit(withdraw_at_exit, Int32GetDatum(slot));
    // Claimed before connecting, so that a DROP DATABASE that holds the
    // slot either finds this worker there and stops it, or is seen here.
    // Also, one worker per database: a worker started by an earlier life
    // of the launcher may still serve it.
    if (!po::pg::worker_claim(slot)) proc_exit(0);
    BackgroundWorkerInitializeConnection(MyBgworkerEntry->bgw_extra, nullptr, 0);
    // Nothing below returns: an error that escapes a step is logged there;
    // one that escapes the loop (out of memory in the worker's own state)
    // ends the worker, which the launcher restarts.
    po::pg::entry_point([slot]() -> Datum {
        po::pg::worker::run(slot);
        return 0;
    });
    proc_exit(1);
}
