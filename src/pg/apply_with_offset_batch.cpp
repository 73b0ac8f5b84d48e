// SQL entry points apply_with_offset_batch(handler_name text, projector
// regprocedure | text, events jsonb) RETURNS bigint: claims a whole batch in set-based statements, then calls the
// projector for each event recorded now, in array order, in one transaction
// and without a subtransaction per event.
#include <string>

#include "../core/batch.hpp"
#include "claim_pair.hpp"
#include "projection_offset_counters.hpp"
#include "payload_hash.hpp"
#include "projector.hpp"

extern "C" {
#include "utils/numeric.h"
}

namespace po::pg {

namespace {

struct Item {
    TextArg event_id;
    bool has_payload = false;
    Datum payload = 0;
    TextArg hash;
    std::optional<int64_t> position;
};

JsonKind kind_of(const JsonbValue& v) {
    switch (v.type) {
        case jbvNull: return JsonKind::Null;
        case jbvString: return JsonKind::String;
        case jbvNumeric: return JsonKind::Number;
        default: return JsonKind::Other;
    }
}

// Reads element i of the events array into an Item, checking its shape.
Item read_item(Jsonb* events, uint32 i) {
    struct Raw {
        bool is_object;
        bool has_id, has_payload, has_position;
        JsonbValue id, payload, position;
    };
    Raw raw{};
    pg_call([&]() noexcept {
        JsonbValue* v = getIthJsonbValueFromContainer(&events->root, i);
        raw.is_object = v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data);
        if (!raw.is_object) return;
        JsonbContainer* object = v->val.binary.data;
        raw.has_id = getKeyJsonValueFromContainer(object, "event_id", 8, &raw.id) != nullptr;
        raw.has_payload = getKeyJsonValueFromContainer(object, "payload", 7, &raw.payload) != nullptr;
        raw.has_position = getKeyJsonValueFromContainer(object, "position", 8, &raw.position) != nullptr;
    });
    EventEntry entry;
    entry.is_object = raw.is_object;
    entry.id_kind = raw.has_id ? kind_of(raw.id) : JsonKind::Missing;
    if (entry.id_kind == JsonKind::String)
        entry.id = std::string_view(raw.id.val.string.val, raw.id.val.string.len);
    entry.position_kind = raw.has_position ? kind_of(raw.position) : JsonKind::Missing;
    check(check_event_entry(i + 1, entry));

    Item item;
    item.event_id.datum = pg_call([&]() noexcept {
        return PointerGetDatum(cstring_to_text_with_len(entry.id.data(), static_cast<int>(entry.id.size())));
    });
    item.event_id.view = text_view(reinterpret_cast<text*>(DatumGetPointer(item.event_id.datum)));
    if (raw.has_payload) {
        item.has_payload = true;
        item.payload = pg_call([&]() noexcept { return JsonbPGetDatum(JsonbValueToJsonb(&raw.payload)); });
        item.hash.datum = payload_hash(item.payload);
        item.hash.view = text_view(reinterpret_cast<text*>(DatumGetPointer(item.hash.datum)));
    }
    if (entry.position_kind == JsonKind::Number) {
        struct Position {
            bool integral;
            int64 value;
        };
        // Checked here so that the error names the element, not only the type.
        Position p = pg_call([&]() noexcept {
            Numeric n = raw.position.val.numeric;
            Datum d = NumericGetDatum(n);
            Datum truncated = DirectFunctionCall2(numeric_trunc, d, Int32GetDatum(0));
            bool integral = DatumGetBool(DirectFunctionCall2(numeric_eq, d, truncated)) &&
                            !numeric_is_nan(n) && !numeric_is_inf(n) &&
                            DatumGetBool(DirectFunctionCall2(numeric_ge, d, NumericGetDatum(int64_to_numeric(PG_INT64_MIN)))) &&
                            DatumGetBool(DirectFunctionCall2(numeric_le, d, NumericGetDatum(int64_to_numeric(PG_INT64_MAX))));
            return Position{integral, integral ? DatumGetInt64(DirectFunctionCall1(numeric_int8, d)) : 0};
        });
        if (!p.integral) {
            raise(Problem{sqlstate::invalid_parameter_value,
                          "element " + std::to_string(i + 1) + " of events has a \"position\" that is not a bigint",
                          "A position is an integer between -9223372036854775808 and 9223372036854775807.", ""});
        }
        item.position = p.value;
    }
    return item;
}

std::vector<Item> read_events(FunctionCallInfo fcinfo, int n) {
    if (PG_ARGISNULL(n)) {
        raise(Problem{sqlstate::null_value_not_allowed, "events must not be null", "", ""});
    }
    Jsonb* events = pg_call([&]() noexcept { return PG_GETARG_JSONB_P(n); });
    if (!JB_ROOT_IS_ARRAY(events) || JB_ROOT_IS_SCALAR(events)) {
        raise(Problem{sqlstate::invalid_parameter_value, "events must be a JSON array",
                      "", "Pass [{\"event_id\": \"...\", \"payload\": {...}}, ...]."});
    }
    const uint32 count = JB_ROOT_COUNT(events);
    std::vector<Item> items;
    items.reserve(count);
    for (uint32 i = 0; i < count; ++i) items.push_back(read_item(events, i));
    return items;
}

// A one-dimensional SQL array of values (nulls may be null for none).
Datum sql_array(std::vector<Datum>& values, const bool* nulls, Oid type) {
    const int count = static_cast<int>(values.size());
    return pg_call([&]() noexcept {
        int16 len;
        bool byval;
        char align;
        get_typlenbyvalalign(type, &len, &byval, &align);
        int dims[1] = {count};
        int lbs[1] = {1};
        return PointerGetDatum(count == 0 ? construct_empty_array(type)
                                          : construct_md_array(values.data(), const_cast<bool*>(nulls), 1,
                                                               dims, lbs, type, len, byval, align));
    });
}

// The three parallel arrays ClaimBatch takes: ids, hashes, positions.
struct BatchArrays {
    Datum ids, hashes, positions;
};

BatchArrays to_arrays(const std::vector<Item>& items) {
    const size_t count = items.size();
    std::vector<Datum> ids(count), hashes(count), positions(count);
    std::unique_ptr<bool[]> hash_nulls(new bool[count + 1]);
    std::unique_ptr<bool[]> position_nulls(new bool[count + 1]);
    for (size_t i = 0; i < count; ++i) {
        ids[i] = items[i].event_id.datum;
        hashes[i] = items[i].hash.datum;
        hash_nulls[i] = !items[i].hash.view;
        positions[i] = items[i].position ? Int64GetDatum(*items[i].position) : 0;
        position_nulls[i] = !items[i].position;
    }
    return BatchArrays{sql_array(ids, nullptr, TEXTOID), sql_array(hashes, hash_nulls.get(), TEXTOID),
                       sql_array(positions, position_nulls.get(), INT8OID)};
}

// The ids and payloads of the events to apply, for a set projector.
struct AppliedArrays {
    Datum ids, payloads;
};

AppliedArrays applied_arrays(const std::vector<Item>& items, const std::vector<size_t>& to_apply) {
    const size_t count = to_apply.size();
    std::vector<Datum> ids(count), payloads(count);
    std::unique_ptr<bool[]> payload_nulls(new bool[count + 1]);
    for (size_t i = 0; i < count; ++i) {
        const Item& item = items[to_apply[i]];
        ids[i] = item.event_id.datum;
        payloads[i] = item.payload;
        payload_nulls[i] = !item.has_payload;
    }
    return AppliedArrays{sql_array(ids, nullptr, TEXTOID), sql_array(payloads, payload_nulls.get(), JSONBOID)};
}

// Copies column `column` of every row of the last SPI result.
std::vector<std::optional<std::string>> column_strings(SpiConnection& spi, uint64_t rows, int column) {
    std::vector<std::optional<std::string>> out;
    out.reserve(rows);
    for (uint64_t row = 0; row < rows; ++row) out.push_back(spi.text_at(row, column));
    return out;
}

Datum apply_with_offset_batch(FunctionCallInfo fcinfo, ProjectorGiven given) {
    TextArg handler = text_arg(fcinfo, 0);
    check(check_handler_name(handler.view));
    const Projector& projector = projector_arg(fcinfo, 1, true, given);
    std::vector<Item> items = read_events(fcinfo, 2);

    std::vector<BatchEvent> events;
    events.reserve(items.size());
    std::unordered_set<std::string_view> distinct;
    bool any_hash = false;
    bool any_position = false;
    for (size_t i = 0; i < items.size(); ++i) {
        if (!items[i].has_payload && projector.strict && projector.form != CallForm::Batch) {
            raise(Problem{sqlstate::null_value_not_allowed,
                          "element " + std::to_string(i + 1) + " of events has no payload for strict projector " +
                              projector.name,
                          "A strict function is not called with a null argument, so the event would "
                          "be recorded without being applied.",
                          ""});
        }
        events.push_back(BatchEvent{*items[i].event_id.view, items[i].hash.view});
        distinct.insert(*items[i].event_id.view);
        any_hash = any_hash || items[i].hash.view.has_value();
        any_position = any_position || items[i].position.has_value();
    }
    BatchArrays arrays = to_arrays(items);

    // Batches without positions never touch the checkpoint and position
    // tables, so they need no privileges on them.
    SpiConnection spi(extension_namespace(fcinfo));
    uint64_t claimed = 0;
    if (any_position) {
        Datum values[4] = {arrays.ids, arrays.hashes, arrays.positions, handler.datum};
        claimed = spi.execute(Statement::ClaimBatchAt, values, nullptr);
    } else {
        Datum values[3] = {arrays.ids, arrays.hashes, handler.datum};
        claimed = spi.execute(Statement::ClaimBatch, values, nullptr);
    }
    const auto recorded_ids = column_strings(spi, claimed, 1);
    std::unordered_set<std::string_view> recorded;
    for (const auto& id : recorded_ids) recorded.insert(*id);

    // Hashes are compared after the claim, against what is stored now,
    // including rows that a concurrent transaction committed meanwhile.
    std::vector<std::optional<std::string>> stored_ids, stored_values;
    std::unordered_map<std::string_view, SqlText> stored;
    if (any_hash) {
        Datum values[2] = {arrays.ids, handler.datum};
        const uint64_t rows = spi.execute(Statement::StoredHashes, values, nullptr);
        stored_ids = column_strings(spi, rows, 1);
        stored_values = column_strings(spi, rows, 2);
        for (uint64_t r = 0; r < rows; ++r) {
            stored[*stored_ids[r]] = stored_values[r] ? SqlText(*stored_values[r]) : std::nullopt;
        }
    }
    auto plan = plan_batch(events, stored, recorded, *handler.view);
    if (auto* problem = std::get_if<Problem>(&plan)) {
        counters::add(*handler.view, {0, 0, 1});
        raise(*problem);
    }
    counters::add(*handler.view, {recorded.size(), distinct.size() - recorded.size(), 0});
    spi.finish();

    const auto& to_apply = std::get<std::vector<size_t>>(plan);
    if (projector.form == CallForm::Batch) {
        if (!to_apply.empty()) {
            AppliedArrays applied = applied_arrays(items, to_apply);
            call_set_projector(projector, *handler.view, applied.ids, applied.payloads, to_apply.size());
        }
    } else {
        for (size_t index : to_apply) {
            const Item& item = items[index];
            call_projector(projector, OffsetKey{item.event_id, handler}, item.payload, !item.has_payload);
        }
    }
    return Int64GetDatum(static_cast<int64>(to_apply.size()));
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
