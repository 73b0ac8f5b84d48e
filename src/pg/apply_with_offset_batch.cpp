// SQL entry points apply_with_offset_batch(handler_name text, projector
// regprocedure | text, events jsonb) RETURNS bigint: claims a whole batch in
// set-based statements, then calls the projector for each event recorded
// now, in array order, in one transaction and without a subtransaction per
// event.
//
// The events array is read in place, never copied per event: each pass
// over it works in a per-element memory context reset after every element.
// The ids are sorted here (BatchIds: a pointer, a length and an ordinal per
// event), which finds repeats inside the batch and gives the claim its lock
// order without a sort or a window in SQL. The claim then inserts the
// distinct ids with their payload hashes, computed here once per event, in
// parts of at most kPartIds ids, so that its arrays stay small whatever the
// batch; what it reports lands in a byte per event (BatchOutcome).
#include <string>

#include "../core/batch.hpp"
#include "../core/batch_ids.hpp"
#include "../core/outcome.hpp"
#include "claim_pair.hpp"
#include "payload_hash.hpp"
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
    std::string_view id;  // points into the events array
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
    return Checked{entry.id, raw.has_payload, entry.position_kind == JsonKind::Number};
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

// Frees our copy of the events document; the caller's own stays. Nothing
// may read the document, or the ids (BatchIds) pointing into it, after.
void release(EventsArg& events) {
    if (events.copy) pg_call([&]() noexcept { pfree(events.doc); });
    events.doc = nullptr;
    events.copy = false;
}

// A memory context for one element's (or one claim part's) garbage. Not
// deleted by a destructor: on an error, PostgreSQL frees it with the
// caller's context.
class ElementContext {
public:
    enum For { Element, ClaimPart };
    explicit ElementContext(For purpose = Element)
        : cxt_(pg_call([purpose]() noexcept {
              // The name must be a literal (AllocSetContextCreate keeps the pointer).
              return purpose == Element
                         ? AllocSetContextCreate(CurrentMemoryContext, "projection_offset batch element",
                                                 ALLOCSET_DEFAULT_SIZES)
                         : AllocSetContextCreate(CurrentMemoryContext, "projection_offset batch claim part",
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
    void keep(std::string_view stored, std::string_view given) {
        pg_call([&]() noexcept {
            MemoryContext old = MemoryContextSwitchTo(keep_);
            if (stored_) pfree(stored_);
            if (given_) pfree(given_);
            stored_ = pnstrdup(stored.data(), stored.size());
            given_ = pnstrdup(given.data(), given.size());
            MemoryContextSwitchTo(old);
        });
    }
    const char* stored() const { return stored_ ? stored_ : ""; }
    const char* given() const { return given_ ? given_ : ""; }

private:
    MemoryContext keep_;
    char* stored_ = nullptr;
    char* given_ = nullptr;
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
    // An element of these bytes behind a 4-byte header (a text or a jsonb).
    void append_bytes(std::string_view bytes) {
        char* at = next(VARHDRSZ + bytes.size());
        SET_VARSIZE(at, VARHDRSZ + bytes.size());
        memcpy(VARDATA(at), bytes.data(), bytes.size());
    }
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

// A text datum's bytes, inside the executor (a pg_call). Ids and hashes are
// short and stored inline, but may be compressed: detoasting then
// allocates in the executor's context.
std::string_view datum_text(Datum d) {
    return text_view(
        reinterpret_cast<text*>(pg_detoast_datum_packed(reinterpret_cast<varlena*>(DatumGetPointer(d)))));
}

// The claim of a batch, one part of its sorted ids at a time. Each part is
// either claimed first, and the ids the INSERT did not record are then
// looked up (two index lookups for a re-delivered event, one descent less
// for a new one), or looked up first, and only the ids not found are
// claimed (one lookup for a re-delivered event): which one is cheaper
// depends on whether the events are mostly new, and ClaimOrder remembers
// which the handler's previous batch was.
class BatchClaim {
public:
    BatchClaim(SpiConnection& spi, Jsonb* events, Datum handler, const BatchIds& ids, BatchOutcome& outcome,
               DivergenceHashes& divergence, bool with_positions, ElementContext& element_cxt,
               ElementContext& part_cxt)
        : spi_(spi),
          events_(events),
          handler_(handler),
          ids_(ids),
          outcome_(outcome),
          divergence_(divergence),
          with_positions_(with_positions),
          element_cxt_(element_cxt),
          part_cxt_(part_cxt) {}

    // Claims groups [begin, end) of ids; returns how many of them were
    // found stored.
    size_t claim(size_t begin, size_t end, bool look_up_first);
    uint64_t positions_recorded() const { return positions_; }
    bool consistent() const { return consistent_; }

private:
    // kAbsent: looked up first and not found, so not looked up again when
    // the insert then skips it as at or below the checkpoint.
    static constexpr uint8_t kRecorded = 1, kBelow = 2, kFound = 4, kAbsent = 8;
    struct Given {
        bool has_hash = false;
        bool has_position = false;
        int64 position = 0;
        char hash[kPayloadHashLength];
    };

    // Rows of ClaimSorted / ClaimSortedAt: (kind, id, n).
    class ClaimRows : public RowSink {
    public:
        explicit ClaimRows(BatchClaim& claim) : claim_(claim) {}
        void row(const Datum* values, const bool* isnull) noexcept override {
            const int32 kind = isnull[0] ? 0 : DatumGetInt32(values[0]);
            if (kind == 3 && !isnull[2]) {
                claim_.positions_ += static_cast<uint64_t>(DatumGetInt64(values[2]));
            } else if ((kind == 1 || kind == 2) && !isnull[1]) {
                claim_.mark(datum_text(values[1]), kind == 1 ? kRecorded : kBelow, nullptr);
            } else {
                claim_.consistent_ = false;
            }
        }

    private:
        BatchClaim& claim_;
    };

    // Rows of StoredHashes: (id, stored hash).
    class StoredRows : public RowSink {
    public:
        explicit StoredRows(BatchClaim& claim) : claim_(claim) {}
        void row(const Datum* values, const bool* isnull) noexcept override {
            if (isnull[0]) {
                claim_.consistent_ = false;
                return;
            }
            text* stored = nullptr;
            if (!isnull[1]) {
                MemoryContext old = MemoryContextSwitchTo(claim_.part_cxt_.get());
                stored = reinterpret_cast<text*>(PG_DETOAST_DATUM_COPY(values[1]));
                MemoryContextSwitchTo(old);
            }
            claim_.mark(datum_text(values[0]), kFound, stored);
        }

    private:
        BatchClaim& claim_;
    };

    void mark(std::string_view id, uint8_t flag, text* stored) noexcept {
        auto group = ids_.find(id, begin_, end_);
        if (!group || (flags_[*group - begin_] & flag)) {
            consistent_ = false;  // an id of another part, or reported twice
            return;
        }
        flags_[*group - begin_] |= flag;
        if (flag == kFound) stored_[*group - begin_] = stored;
    }

    Given given_at(uint32_t ordinal);
    template <typename F>
    void for_each_hash(size_t group, F f);
    bool agrees_with_stored(size_t group);
    void look_up(const std::vector<size_t>& groups);
    void insert(const std::vector<size_t>& groups);
    Datum id_array(const std::vector<size_t>& groups);
    void compare(size_t group);

    SpiConnection& spi_;
    Jsonb* events_;
    Datum handler_;
    const BatchIds& ids_;
    BatchOutcome& outcome_;
    DivergenceHashes& divergence_;
    const bool with_positions_;
    ElementContext& element_cxt_;
    ElementContext& part_cxt_;
    uint64_t positions_ = 0;
    bool consistent_ = true;
    // The part being claimed: groups [begin_, end_).
    size_t begin_ = 0, end_ = 0;
    std::vector<uint8_t> flags_;
    std::vector<text*> stored_;  // in part_cxt_
    std::vector<Given> given_;   // of each group's first occurrence
};

// The payload hash and position of the event at `ordinal`.
BatchClaim::Given BatchClaim::given_at(uint32_t ordinal) {
    Given given;
    {
        InContext in(element_cxt_.get());
        const Element e = element_at(events_, ordinal - 1);
        if (e.has_payload) {
            payload_hash_hex(e.payload, given.hash);
            given.has_hash = true;
        }
        if (with_positions_ && e.has_position && e.position.type == jbvNumeric) {
            // Checked to be an integral bigint before anything was written.
            given.position = pg_call([&]() noexcept {
                return DatumGetInt64(
                    DirectFunctionCall1(numeric_int8, NumericGetDatum(e.position.val.numeric)));
            });
            given.has_position = true;
        }
    }
    element_cxt_.reset();
    return given;
}

Datum BatchClaim::id_array(const std::vector<size_t>& groups) {
    size_t bytes = 0;
    for (size_t g : groups) bytes += INTALIGN(VARHDRSZ + ids_.id(g).size());
    VarlenaArray ids(TEXTOID, static_cast<int>(groups.size()), bytes);
    for (size_t g : groups) {
        check_for_interrupts();
        ids.append_bytes(ids_.id(g));
    }
    return ids.datum();
}

void BatchClaim::look_up(const std::vector<size_t>& groups) {
    if (groups.empty()) return;
    InContext in(part_cxt_.get());
    const Datum values[2] = {id_array(groups), handler_};
    StoredRows rows(*this);
    spi_.execute_into(Statement::StoredHashes, values, nullptr, 2, rows);
}

void BatchClaim::insert(const std::vector<size_t>& groups) {
    if (groups.empty()) return;
    InContext in(part_cxt_.get());
    const int count = static_cast<int>(groups.size());
    VarlenaArray hashes(TEXTOID, count, groups.size() * INTALIGN(VARHDRSZ + kPayloadHashLength));
    for (size_t g : groups) {
        const Given& given = given_[g - begin_];
        if (!given.has_hash) {
            hashes.append_null();
            continue;
        }
        hashes.append_bytes(std::string_view(given.hash, kPayloadHashLength));
    }
    Datum values[4] = {id_array(groups), handler_, hashes.datum(), Datum(0)};
    if (with_positions_) {
        values[3] = pg_call([&]() noexcept {
            Datum* positions = static_cast<Datum*>(palloc(sizeof(Datum) * groups.size()));
            bool* nulls = static_cast<bool*>(palloc(sizeof(bool) * groups.size()));
            for (size_t i = 0; i < groups.size(); ++i) {
                const Given& given = given_[groups[i] - begin_];
                positions[i] = Int64GetDatum(given.position);
                nulls[i] = !given.has_position;
            }
            int dims[1] = {count};
            int lbs[1] = {1};
            return PointerGetDatum(construct_md_array(positions, nulls, 1, dims, lbs, INT8OID, sizeof(int64),
                                                      FLOAT8PASSBYVAL, 'd'));
        });
    }
    ClaimRows rows(*this);
    spi_.execute_into(with_positions_ ? Statement::ClaimSortedAt : Statement::ClaimSorted, values, nullptr, 3,
                      rows);
}

// Calls f(ordinal, hash) for each occurrence of `group` that has a payload
// hash, in array order, while f returns true. Repeats are hashed here; the
// first occurrence's hash is the one computed for the claim.
template <typename F>
void BatchClaim::for_each_hash(size_t group, F f) {
    for (size_t k = 0; k < ids_.occurrences(group); ++k) {
        check_for_interrupts();
        const uint32_t ordinal = ids_.occurrence(group, k);
        Given repeat;
        const Given& given = k == 0 ? given_[group - begin_] : (repeat = given_at(ordinal));
        if (given.has_hash && !f(ordinal, std::string_view(given.hash, kPayloadHashLength))) return;
    }
}

// Whether a group found stored has no occurrence with another hash than
// the stored one.
bool BatchClaim::agrees_with_stored(size_t group) {
    const text* stored = stored_[group - begin_];
    if (stored == nullptr) return true;
    const std::string_view reference = text_view(stored);
    bool agrees = true;
    for_each_hash(group, [&](uint32_t, std::string_view hash) { return agrees = hash == reference; });
    return agrees;
}

// Every occurrence of a group is compared with the group's reference hash:
// the stored one, or that of its first occurrence when it was recorded now.
void BatchClaim::compare(size_t group) {
    const size_t i = group - begin_;
    const uint32_t first = ids_.occurrence(group, 0);
    if (flags_[i] & kRecorded) outcome_.recorded(first);
    if (flags_[i] & kBelow) outcome_.below_checkpoint(first);
    if (!(flags_[i] & (kRecorded | kFound))) {
        if (!(flags_[i] & kBelow)) outcome_.missing(first);
        return;
    }
    std::string_view reference;
    if (flags_[i] & kFound) {
        if (stored_[i] == nullptr) return;  // recorded without a hash: nothing to compare
        reference = text_view(stored_[i]);
    } else {
        if (!given_[i].has_hash) return;
        reference = std::string_view(given_[i].hash, kPayloadHashLength);
    }
    for_each_hash(group, [&](uint32_t ordinal, std::string_view hash) {
        if (hash != reference && outcome_.divergent(ordinal)) divergence_.keep(reference, hash);
        return true;
    });
}

size_t BatchClaim::claim(size_t begin, size_t end, bool look_up_first) {
    begin_ = begin;
    end_ = end;
    const size_t n = end - begin;
    flags_.assign(n, 0);
    stored_.assign(n, nullptr);
    given_.resize(n);
    for (size_t g = begin; g < end; ++g) {
        check_for_interrupts();
        given_[g - begin] = given_at(ids_.occurrence(g, 0));
    }
    std::vector<size_t> groups;
    groups.reserve(n);
    auto select = [&](auto wanted) -> const std::vector<size_t>& {
        groups.clear();
        for (size_t g = begin; g < end; ++g) {
            if (wanted(g, flags_[g - begin])) groups.push_back(g);
        }
        return groups;
    };
    if (look_up_first) {
        look_up(select([](size_t, uint8_t) { return true; }));
        for (size_t g = begin; g < end; ++g) {
            check_for_interrupts();
            uint8_t& flags = flags_[g - begin];
            if (!(flags & kFound)) {
                flags |= kAbsent;
            } else if (!agrees_with_stored(g)) {
                // The row read may be one that a concurrent offset_release
                // or offset_reset is deleting: the insert waits for it as
                // the other claims do, and records the event if it commits.
                // Only a divergence is sent that way; an event found with
                // its own hash is a re-delivery as of the lookup.
                flags &= static_cast<uint8_t>(~kFound);
                stored_[g - begin] = nullptr;
            }
        }
    }
    insert(select([](size_t, uint8_t flags) { return !(flags & kFound); }));
    // An id neither recorded nor found conflicted with a row committed
    // after the snapshot of the statement before (or a trigger skipped it):
    // read with a new snapshot. Ids at or below the checkpoint are compared
    // with their stored rows too, as every re-delivery is.
    look_up(select([](size_t, uint8_t flags) {
        return !(flags & (kRecorded | kFound)) && (flags & (kBelow | kAbsent)) != (kBelow | kAbsent);
    }));
    size_t found = 0;
    for (size_t g = begin; g < end; ++g) {
        check_for_interrupts();
        compare(g);
        found += (flags_[g - begin] & kFound) != 0;
    }
    part_cxt_.reset();
    return found;
}

// Which way the previous batch of a handler in this session was claimed
// best: looked up first if most of its ids were stored already. A few bits
// per session, indexed by a hash of the handler name; a collision only
// costs speed.
class ClaimOrder {
public:
    explicit ClaimOrder(std::string_view handler) : slot_(std::hash<std::string_view>{}(handler) % kSlots) {}
    bool look_up_first() const { return look_up_first_[slot_]; }
    void remember(size_t found, size_t claimed) { look_up_first_[slot_] = found * 2 > claimed; }

private:
    static constexpr uint32_t kSlots = 64;
    static inline bool look_up_first_[kSlots] = {};
    size_t slot_;
};

// Ids claimed per statement: the arrays of one part stay within a few
// hundred kilobytes.
constexpr size_t kPartIds = 8192;

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
            ids.append_bytes(id_of(e));
            if (!e.has_payload) {
                payloads.append_null();
            } else if (e.payload.type == jbvBinary) {
                payloads.append_bytes(
                    std::string_view(reinterpret_cast<const char*>(e.payload.val.binary.data),
                                     static_cast<size_t>(e.payload.val.binary.len)));
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
    BatchIds ids(count);
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
        ids.add(checked.id, i + 1);
    }
    if (count == 0) {
        element_cxt.drop();
        return int64_datum(0);
    }
    ids.sort(check_for_interrupts);
    outcome.distinct(ids.groups());

    // Batches without positions never touch the checkpoint and position
    // tables, so they need no privileges on them.
    const Oid nsp = extension_namespace(fcinfo);
    SpiConnection spi(nsp);
    DivergenceHashes hashes(CurrentMemoryContext);
    ElementContext part_cxt(ElementContext::ClaimPart);
    BatchClaim claim(spi, events, handler.datum, ids, outcome, hashes, any_position, element_cxt, part_cxt);
    ClaimOrder order(*handler.view);
    size_t found = 0;
    for (size_t begin = 0; begin < ids.groups(); begin += kPartIds) {
        found += claim.claim(begin, std::min(ids.groups(), begin + kPartIds), order.look_up_first());
    }
    part_cxt.drop();
    order.remember(found, ids.groups());
    ids.release();
    outcome.positions(claim.positions_recorded());
    if (!claim.consistent() || !outcome.consistent()) {
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
    if (auto position = outcome.first_divergent()) {
        counters::add(*handler.view, {0, 0, 1});
        raise(batch_divergence_problem(*position, id_at(events, static_cast<uint32>(*position - 1)),
                                       *handler.view, hashes.stored(), hashes.given()));
    }
    // An INSERT ... ON CONFLICT DO NOTHING records nothing only for a
    // conflict, unless a BEFORE trigger skipped the row: then every id must
    // be stored, or its events would be reported as applied. Without such a
    // trigger, an id neither recorded nor stored conflicted with a row that
    // a concurrent offset_release deleted since: a re-delivery.
    if (auto position = outcome.first_missing()) {
        if (has_before_insert_trigger(nsp, "projection_offset")) {
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
