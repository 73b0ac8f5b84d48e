// SQL entry points apply_with_offset_batch(handler_name text, projector
// regprocedure | text, events jsonb) RETURNS bigint: claims a whole batch in
// set-based statements, then calls the projector for each event recorded
// now, in array order, in one transaction and without a subtransaction per
// event.
//
// Memory stays close to that of hand-written set-based SQL: the events
// array is read in place, never copied per event. Each pass over it works
// in a per-element memory context reset after every element; the claim
// statement reads the array itself (as INSERT ... SELECT FROM
// jsonb_array_elements would) and streams back only ordinals, which land in
// a byte per event (BatchOutcome).
#include <string>

#include "../core/batch.hpp"
#include "../core/outcome.hpp"
#include "claim_pair.hpp"
#include "projection_offset_counters.hpp"
#include "projector.hpp"

extern "C" {
#include "utils/numeric.h"
}

namespace po::pg {

namespace {

JsonKind kind_of(const JsonbValue& v) {
    switch (v.type) {
        case jbvNull: return JsonKind::Null;
        case jbvString: return JsonKind::String;
        case jbvNumeric: return JsonKind::Number;
        default: return JsonKind::Other;
    }
}

// Element i (0-based) of the events array, as jsonb values pointing into
// the array. Allocates in the current (per-element) context.
struct Element {
    bool is_object;
    bool has_id, has_payload, has_position;
    JsonbValue id, payload, position;
};

Element element_at(Jsonb* events, uint32 i) {
    Element e{};
    pg_call([&]() noexcept {
        JsonbValue* v = getIthJsonbValueFromContainer(&events->root, i);
        e.is_object = v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data);
        if (!e.is_object) return;
        JsonbContainer* object = v->val.binary.data;
        e.has_id = getKeyJsonValueFromContainer(object, "event_id", 8, &e.id) != nullptr;
        e.has_payload = getKeyJsonValueFromContainer(object, "payload", 7, &e.payload) != nullptr;
        e.has_position = getKeyJsonValueFromContainer(object, "position", 8, &e.position) != nullptr;
    });
    return e;
}

std::string_view id_of(const Element& e) {
    return std::string_view(e.id.val.string.val, static_cast<size_t>(e.id.val.string.len));
}

// Checks element i (0-based): an object with a string "event_id" within the
// limits and, if any, a bigint "position".
struct Checked {
    bool has_payload;
    bool has_position;  // a non-null position
};

Checked check_element(Jsonb* events, uint32 i) {
    const Element raw = element_at(events, i);
    EventEntry entry;
    entry.is_object = raw.is_object;
    entry.id_kind = raw.has_id ? kind_of(raw.id) : JsonKind::Missing;
    if (entry.id_kind == JsonKind::String) entry.id = id_of(raw);
    entry.position_kind = raw.has_position ? kind_of(raw.position) : JsonKind::Missing;
    check(check_event_entry(i + 1, entry));
    if (entry.position_kind == JsonKind::Number) {
        // Checked here so that the error names the element, not only the type.
        const bool integral = pg_call([&]() noexcept {
            Numeric n = raw.position.val.numeric;
            Datum d = NumericGetDatum(n);
            if (numeric_is_nan(n) || numeric_is_inf(n)) return false;
            Datum truncated = DirectFunctionCall2(numeric_trunc, d, Int32GetDatum(0));
            return DatumGetBool(DirectFunctionCall2(numeric_eq, d, truncated)) &&
                   DatumGetBool(
                       DirectFunctionCall2(numeric_ge, d, NumericGetDatum(int64_to_numeric(PG_INT64_MIN)))) &&
                   DatumGetBool(
                       DirectFunctionCall2(numeric_le, d, NumericGetDatum(int64_to_numeric(PG_INT64_MAX))));
        });
        if (!integral) {
            raise(Problem{sqlstate::invalid_parameter_value,
                          element(i + 1) + " has a \"position\" that is not a bigint",
                          "A position is an integer between -9223372036854775808 and 9223372036854775807.",
                          ""});
        }
    }
    return Checked{raw.has_payload, entry.position_kind == JsonKind::Number};
}

// The event id of element i (0-based), copied, for a message.
std::string id_at(Jsonb* events, uint32 i) { return std::string(id_of(element_at(events, i))); }

// The events argument, read in place. A document stored compressed or out
// of line is decompressed into a copy of ours (as large as the array, about
// 100 bytes an event), which may be freed once nothing reads it any more.
struct EventsArg {
    Jsonb* doc;
    bool copy;
};

EventsArg events_arg(FunctionCallInfo fcinfo, int n) {
    if (PG_ARGISNULL(n)) {
        raise(Problem{sqlstate::null_value_not_allowed, "events must not be null", "", ""});
    }
    const EventsArg events = pg_call([&]() noexcept {
        Jsonb* doc = PG_GETARG_JSONB_P(n);
        return EventsArg{doc, doc != reinterpret_cast<Jsonb*>(DatumGetPointer(PG_GETARG_DATUM(n)))};
    });
    if (!JB_ROOT_IS_ARRAY(events.doc) || JB_ROOT_IS_SCALAR(events.doc)) {
        raise(Problem{sqlstate::invalid_parameter_value, "events must be a JSON array", "",
                      "Pass [{\"event_id\": \"...\", \"payload\": {...}}, ...]."});
    }
    return events;
}

// Frees our copy of the events document; the caller's own stays.
void release(EventsArg& events) {
    if (events.copy) pg_call([&]() noexcept { pfree(events.doc); });
    events.doc = nullptr;
    events.copy = false;
}

// A memory context for one element's garbage. Not deleted by a destructor:
// on an error, PostgreSQL frees it with the caller's context.
class ElementContext {
public:
    ElementContext()
        : cxt_(pg_call([]() noexcept {
              return AllocSetContextCreate(CurrentMemoryContext, "projection_offset batch element",
                                           ALLOCSET_DEFAULT_SIZES);
          })) {}
    MemoryContext get() const { return cxt_; }
    void reset() {
        pg_call([this]() noexcept { MemoryContextReset(cxt_); });
    }
    void drop() {
        pg_call([this]() noexcept { MemoryContextDelete(cxt_); });
    }

private:
    MemoryContext cxt_;
};

// Makes cxt current for a scope; restoring is a plain assignment.
class InContext {
public:
    explicit InContext(MemoryContext cxt) : saved_(MemoryContextSwitchTo(cxt)) {}
    ~InContext() { MemoryContextSwitchTo(saved_); }
    InContext(const InContext&) = delete;
    InContext& operator=(const InContext&) = delete;

private:
    MemoryContext saved_;
};

// The stored and the given hash of the earliest divergence, kept in `keep`
// for the message.
class DivergenceHashes {
public:
    explicit DivergenceHashes(MemoryContext keep) : keep_(keep) {}
    // Called from a RowSink, inside the executor.
    void keep(Datum stored, Datum given) noexcept {
        MemoryContext old = MemoryContextSwitchTo(keep_);
        if (stored_) pfree(stored_);
        if (given_) pfree(given_);
        stored_ = text_to_cstring(DatumGetTextPP(stored));
        given_ = text_to_cstring(DatumGetTextPP(given));
        MemoryContextSwitchTo(old);
    }
    const char* stored() const { return stored_ ? stored_ : ""; }
    const char* given() const { return given_ ? given_ : ""; }

private:
    MemoryContext keep_;
    char* stored_ = nullptr;
    char* given_ = nullptr;
};

// Rows of ClaimEvents / ClaimEventsAt: (ordinal, kind, n, stored, given).
class ClaimSink : public RowSink {
public:
    ClaimSink(BatchOutcome& outcome, DivergenceHashes& hashes) : outcome_(outcome), hashes_(hashes) {}
    void row(const Datum* values, const bool* isnull) noexcept override {
        const int32 kind = isnull[1] ? -1 : DatumGetInt32(values[1]);
        const uint64_t ordinal = isnull[0] ? 0 : static_cast<uint64_t>(DatumGetInt64(values[0]));
        const uint64_t n = isnull[2] ? 0 : static_cast<uint64_t>(DatumGetInt64(values[2]));
        switch (kind) {
            case 0: outcome_.distinct(n); break;
            case 1: outcome_.recorded(ordinal); break;
            case 2: outcome_.below_checkpoint(ordinal); break;
            case 3: outcome_.positions(n); break;
            case 5: outcome_.found_stored(n); break;
            case 4:  // another hash than the row stored before
            case 6:  // another hash than the first occurrence, recorded now
                if (isnull[3] || isnull[4]) {
                    outcome_.recorded(0);  // marks the outcome inconsistent
                } else if (outcome_.divergent(ordinal)) {
                    hashes_.keep(values[3], values[4]);
                }
                break;
            default: outcome_.recorded(0); break;
        }
    }

private:
    BatchOutcome& outcome_;
    DivergenceHashes& hashes_;
};

// Rows of DivergentEvents and MissingEvents: (ordinal, stored, given).
class CheckSink : public RowSink {
public:
    CheckSink(BatchOutcome& outcome, DivergenceHashes& hashes) : outcome_(outcome), hashes_(hashes) {}
    void row(const Datum* values, const bool* isnull) noexcept override {
        const uint64_t ordinal = isnull[0] ? 0 : static_cast<uint64_t>(DatumGetInt64(values[0]));
        if (isnull[1] || isnull[2]) {
            outcome_.missing(ordinal);
        } else if (outcome_.divergent(ordinal)) {
            hashes_.keep(values[1], values[2]);
        }
    }

private:
    BatchOutcome& outcome_;
    DivergenceHashes& hashes_;
};

// A one-dimensional array of a varlena type with int alignment (text,
// jsonb), filled element by element into one allocation of its exact size.
class VarlenaArray {
public:
    VarlenaArray(Oid type, int count, size_t data_bytes) {
        const size_t overhead = ARR_OVERHEAD_WITHNULLS(1, count);
        if (data_bytes > MaxAllocSize - overhead) {
            raise(Problem{"54000", "the events applied now are too large for a set projector",
                          "Their ids and payloads come to " + std::to_string(data_bytes) +
                              " bytes; an array is limited to 1 GB.",
                          "Apply the events in smaller batches."});
        }
        array_ = pg_call([&]() noexcept {
            auto* a = static_cast<ArrayType*>(palloc0(overhead + data_bytes));
            SET_VARSIZE(a, overhead + data_bytes);
            a->ndim = 1;
            a->dataoffset = static_cast<int32>(overhead);
            a->elemtype = type;
            ARR_DIMS(a)[0] = count;
            ARR_LBOUND(a)[0] = 1;
            return a;
        });
        end_ = reinterpret_cast<char*>(array_) + overhead + data_bytes;
        cursor_ = ARR_DATA_PTR(array_);
    }

    // Reserves the next element, of `size` bytes with its header; returns
    // where to write it.
    char* next(size_t size) {
        if (cursor_ + size > end_) raise(Problem{"XX000", "set projector array overflow", "", ""});
        ARR_NULLBITMAP(array_)[index_ / 8] |= static_cast<bits8>(1 << (index_ % 8));
        ++index_;
        char* at = cursor_;
        cursor_ += INTALIGN(size);
        return at;
    }
    void append(const varlena* value) { memcpy(next(VARSIZE_ANY(value)), value, VARSIZE_ANY(value)); }
    void append_null() { ++index_; }  // the bitmap bit stays 0
    Datum datum() const { return PointerGetDatum(array_); }

private:
    ArrayType* array_;
    char* cursor_;
    char* end_;
    int index_ = 0;
};

size_t payload_size(const Element& e, MemoryContext element_cxt) {
    if (e.payload.type == jbvBinary) return VARHDRSZ + static_cast<size_t>(e.payload.val.binary.len);
    // A scalar payload is converted to know its size.
    InContext in(element_cxt);
    return pg_call([&]() noexcept {
        return static_cast<size_t>(VARSIZE(JsonbValueToJsonb(const_cast<JsonbValue*>(&e.payload))));
    });
}

// Calls a set projector once with the ids and payloads of the events
// recorded now, in array order.
void apply_as_set(const Projector& resolved, std::string_view handler, EventsArg& events_arg,
                  const BatchOutcome& outcome, ElementContext& element_cxt) {
    Jsonb* events = events_arg.doc;
    const size_t count = outcome.recorded_count();
    if (count == 0) return;
    // First the exact sizes, then the copies.
    size_t id_bytes = 0, payload_bytes = 0;
    for (size_t ordinal = 1; ordinal <= outcome.events(); ++ordinal) {
        if (!outcome.is_recorded(ordinal)) continue;
        check_for_interrupts();
        {
            InContext in(element_cxt.get());
            const Element e = element_at(events, static_cast<uint32>(ordinal - 1));
            id_bytes += INTALIGN(VARHDRSZ + static_cast<size_t>(e.id.val.string.len));
            if (e.has_payload) payload_bytes += INTALIGN(payload_size(e, element_cxt.get()));
        }
        element_cxt.reset();
    }
    VarlenaArray ids(TEXTOID, static_cast<int>(count), id_bytes);
    VarlenaArray payloads(JSONBOID, static_cast<int>(count), payload_bytes);
    for (size_t ordinal = 1; ordinal <= outcome.events(); ++ordinal) {
        if (!outcome.is_recorded(ordinal)) continue;
        check_for_interrupts();
        {
            InContext in(element_cxt.get());
            const Element e = element_at(events, static_cast<uint32>(ordinal - 1));
            const size_t id_length = static_cast<size_t>(e.id.val.string.len);
            char* id = ids.next(VARHDRSZ + id_length);
            SET_VARSIZE(id, VARHDRSZ + id_length);
            memcpy(VARDATA(id), e.id.val.string.val, id_length);
            if (!e.has_payload) {
                payloads.append_null();
            } else if (e.payload.type == jbvBinary) {
                const size_t length = static_cast<size_t>(e.payload.val.binary.len);
                char* payload = payloads.next(VARHDRSZ + length);
                SET_VARSIZE(payload, VARHDRSZ + length);
                memcpy(VARDATA(payload), e.payload.val.binary.data, length);
            } else {
                payloads.append(reinterpret_cast<varlena*>(pg_call(
                    [&]() noexcept { return JsonbValueToJsonb(const_cast<JsonbValue*>(&e.payload)); })));
            }
        }
        element_cxt.reset();
    }
    // The arrays hold all that the projector reads. The decompressed
    // document is freed before it runs, so that the projector's memory (a
    // PL/pgSQL function copies its array arguments again) does not add up
    // with the document's.
    release(events_arg);
    // A trigger of the claim may have replaced or dropped the function.
    const Projector& projector = current_projector(resolved, true);
    call_set_projector(projector, handler, ids.datum(), payloads.datum(), count);
}

// Calls a per-event projector for each event recorded now, in array order,
// building its arguments in the per-element context.
void apply_each(const Projector& resolved, const TextArg& handler, Jsonb* events, const BatchOutcome& outcome,
                ElementContext& element_cxt) {
    for (size_t ordinal = 1; ordinal <= outcome.events(); ++ordinal) {
        if (!outcome.is_recorded(ordinal)) continue;
        check_for_interrupts();
        // The projector, a trigger or another session may have replaced or
        // dropped the function since the previous event.
        const Projector& projector = current_projector(resolved, true);
        {
            InContext in(element_cxt.get());
            const Element e = element_at(events, static_cast<uint32>(ordinal - 1));
            check_strict_payload(projector, !e.has_payload, element(ordinal) + " has no payload");
            struct Args {
                Datum id;
                Datum payload;
            };
            const Args args = pg_call([&]() noexcept {
                Datum id =
                    PointerGetDatum(cstring_to_text_with_len(e.id.val.string.val, e.id.val.string.len));
                Datum payload = e.has_payload
                                    ? JsonbPGetDatum(JsonbValueToJsonb(const_cast<JsonbValue*>(&e.payload)))
                                    : Datum(0);
                return Args{id, payload};
            });
            TextArg id{args.id, text_view(reinterpret_cast<text*>(DatumGetPointer(args.id)))};
            call_projector(projector, OffsetKey{id, handler}, args.payload, !e.has_payload);
        }
        element_cxt.reset();
    }
}

Datum apply_with_offset_batch(FunctionCallInfo fcinfo, ProjectorGiven given) {
    TextArg handler = text_arg(fcinfo, 0);
    check(check_handler_name(handler.view));
    const Projector& resolved = projector_arg(fcinfo, 1, true, given);
    EventsArg events_given = events_arg(fcinfo, 2);
    Jsonb* events = events_given.doc;
    const uint32 count = JB_ROOT_COUNT(events);
    BatchOutcome outcome(count);
    ElementContext element_cxt;

    // Every element is checked before anything is written.
    bool any_position = false;
    for (uint32 i = 0; i < count; ++i) {
        check_for_interrupts();
        Checked checked;
        {
            InContext in(element_cxt.get());
            checked = check_element(events, i);
        }
        element_cxt.reset();
        if (resolved.form != CallForm::Batch) {
            check_strict_payload(resolved, !checked.has_payload, element(i + 1) + " has no payload");
        }
        if (checked.has_position) {
            any_position = true;
            outcome.has_position(i + 1);
        }
    }
    if (count == 0) {
        element_cxt.drop();
        return int64_datum(0);
    }

    // Batches without positions never touch the checkpoint and position
    // tables, so they need no privileges on them.
    const Oid nsp = extension_namespace(fcinfo);
    SpiConnection spi(nsp);
    const Datum values[2] = {PointerGetDatum(events), handler.datum};
    DivergenceHashes hashes(CurrentMemoryContext);
    ClaimSink claim(outcome, hashes);
    spi.execute_into(any_position ? Statement::ClaimEventsAt : Statement::ClaimEvents, values, nullptr, 5,
                     claim);
    if (!outcome.consistent()) {
        raise(Problem{"XX000",
                      "unexpected result of the batch claim of handler \"" + excerpt(*handler.view) + "\"",
                      "", ""});
    }
    const std::string handler_words = "handler \"" + excerpt(*handler.view) + "\"";
    if (any_position && outcome.positions_recorded() < outcome.positions_expected() &&
        has_before_insert_trigger(nsp, "projection_offset_position")) {
        raise(
            write_skipped_problem("position of an event for " + handler_words, "projection_offset_position"));
    }

    // The claim compared the hashes of re-deliveries and repeats with the
    // rows stored before it and with the first occurrences it recorded. An
    // id it neither recorded nor found conflicted with a row committed after
    // its snapshot (or a trigger skipped it): those are compared against
    // what is stored now, with a new snapshot.
    if (outcome.unseen_ids()) {
        CheckSink checked(outcome, hashes);
        spi.execute_into(Statement::DivergentEvents, values, nullptr, 3, checked);
    }
    if (auto position = outcome.first_divergent()) {
        counters::add(*handler.view, {0, 0, 1});
        raise(batch_divergence_problem(*position, id_at(events, static_cast<uint32>(*position - 1)),
                                       *handler.view, hashes.stored(), hashes.given()));
    }
    // An INSERT ... ON CONFLICT DO NOTHING records nothing only for a
    // conflict, unless a BEFORE trigger skipped the row: then every id must
    // be stored, or its events would be reported as applied.
    if (outcome.unseen_ids() && has_before_insert_trigger(nsp, "projection_offset")) {
        CheckSink checked(outcome, hashes);
        spi.execute_into(Statement::MissingEvents, values, nullptr, 3, checked);
        if (auto position = outcome.first_missing()) {
            raise(write_skipped_problem(
                element(*position) + ": " +
                    offset_words(id_at(events, static_cast<uint32>(*position - 1)), *handler.view),
                "projection_offset"));
        }
    }
    const uint64_t recorded = outcome.recorded_count();
    counters::add(*handler.view, {recorded, outcome.distinct_ids() - recorded, 0});
    spi.finish();

    if (resolved.form == CallForm::Batch) {
        apply_as_set(resolved, *handler.view, events_given, outcome, element_cxt);
    } else {
        apply_each(resolved, handler, events, outcome, element_cxt);
    }
    element_cxt.drop();
    return int64_datum(static_cast<int64>(recorded));
}

Datum apply_with_offset_batch_oid(FunctionCallInfo fcinfo) {
    return apply_with_offset_batch(fcinfo, ProjectorGiven::Oid);
}
Datum apply_with_offset_batch_text(FunctionCallInfo fcinfo) {
    return apply_with_offset_batch(fcinfo, ProjectorGiven::Text);
}

}  // namespace

}  // namespace po::pg

PO_SQL_FUNCTION(po_apply_with_offset_batch, po::pg::apply_with_offset_batch_oid)
PO_SQL_FUNCTION(po_apply_with_offset_batch_by_name, po::pg::apply_with_offset_batch_text)
// The symbol of apply_with_offset(text, regprocedure, jsonb), which the 1.1
// install script names.
PO_SQL_FUNCTION(po_apply_batch, po::pg::apply_with_offset_batch_oid)
