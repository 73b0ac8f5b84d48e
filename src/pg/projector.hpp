// Resolving a regprocedure to a callable projector, and calling it.
#pragma once

#include <string>

#include "args.hpp"
#include "sql_projector.hpp"
#include "../core/projector_shape.hpp"

namespace po::pg {

struct Projector {
    Oid oid = InvalidOid;
    RoutineShape shape;
    CallForm form = CallForm::Payload;  // as classified for the batch form
    bool strict = false;
    std::string name;
    MemoryContext cxt = nullptr;  // holds flinfo and the handler's fn_extra
    FmgrInfo* flinfo = nullptr;
    // Calls of this projector now running: a nested call (a projector that
    // applies further events with itself) gets an FmgrInfo of its own, since
    // a function handler keeps the running call's state in fn_extra.
    mutable int running = 0;
    // A call raised an error: the FmgrInfo is replaced before the next call.
    mutable bool failed = false;
    // A LANGUAGE sql projector whose body runs from kept plans (see
    // sql_projector.hpp), prepared at its first call.
    bool sql_fast = false;
    mutable SqlBody* sql_body = nullptr;
};

// Checks shape and EXECUTE privilege for the current user; the catalog part
// is cached per backend until pg_proc changes.
const Projector& resolve_projector(Oid oid, bool batch);

// How a SQL function takes its projector: as regprocedure, or as text that
// reads as regprocedure or regproc input (for drivers that bind strings as
// text or varchar, which have no cast to regprocedure).
enum class ProjectorGiven { Oid, Text };

// The text argument n, not NULL, parsed to a function OID.
Oid projector_oid_from_text(FunctionCallInfo fcinfo, int n);

// The projector argument n, which must not be NULL, resolved. Only the
// batch form (batch = true) accepts a set projector.
const Projector& projector_arg(FunctionCallInfo fcinfo, int n, bool batch = false,
                               ProjectorGiven given = ProjectorGiven::Oid);

// Calls a (text, jsonb) projector for the idempotency harness, which names
// no handler; an error gets a context line naming the event.
void call_projector_delivery(const Projector& projector, Datum event_id, std::string_view event_id_view,
                             Datum payload, bool payload_isnull);

// The projector as the catalog describes it now: a projector, a trigger or
// another session may have replaced or dropped the function since it was
// resolved (42883 when it is gone). Called before every call.
const Projector& current_projector(const Projector& projector, bool batch);

// Raises 22004 when a strict projector would get a null payload: it would
// not be called, and the event would be recorded without being applied.
// `where` prefixes the message ("element 3 of events has no payload", or
// "payload must not be null").
void check_strict_payload(const Projector& projector, bool payload_isnull, const std::string& where);

// Calls the projector; an error it raises gets a context line naming the
// handler and the event.
void call_projector(const Projector& projector, const OffsetKey& key, Datum payload, bool payload_isnull);

// Calls a set projector once with the ids (text[]) and payloads (jsonb[])
// of the events applied now; an error gets a context line naming the
// handler and the number of events.
void call_set_projector(const Projector& projector, std::string_view handler_name, Datum event_ids,
                        Datum payloads, size_t count);

// Called from the pg_proc syscache callback.
void invalidate_projectors();

// Called from the pg_authid and pg_auth_members syscache callbacks.
void invalidate_projector_privileges();

}  // namespace po::pg
