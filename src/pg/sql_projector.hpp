// Kept plans for projectors written in plain SQL.
//
// Before PostgreSQL 18, a LANGUAGE sql function parses, analyses and plans
// its body once per transaction, which costs more than the rest of an
// apply_with_offset call. For a projector whose semantics cannot differ, the
// extension keeps the body's statements as cached plans (plancache) and runs
// them the way fmgr_sql does: a command counter increment and a fresh
// snapshot per statement, parameters resolved by sql_fn_parser_setup, and
// the same error context lines. PostgreSQL 18 caches SQL function plans
// itself, so there the plain call is used.
#pragma once

#include "guard.hpp"

namespace po::pg {

struct SqlBody;

// The functions below call into the backend and raise PostgreSQL errors:
// they run inside pg_call.

// Whether the catalog row (a pg_proc tuple) describes a function the fast
// path runs exactly as fmgr_sql would: plain SQL text (not BEGIN ATOMIC),
// VOLATILE, RETURNS void, not a set, not SECURITY DEFINER, no SET clauses,
// no polymorphic arguments, and no fmgr hook that wants to wrap the call.
// Always false on PostgreSQL 18 and later.
bool sql_body_eligible(HeapTuple proc_tuple) noexcept;

// The body in *slot, parsed and analysed on first use (errors then read as
// fmgr_sql's "during startup"). Null when a statement is one the fast path
// leaves to fmgr_sql, such as a utility statement.
SqlBody* sql_body_ready(SqlBody** slot, Oid oid, Oid collation) noexcept;

// Runs every statement of a ready body with the given arguments.
void sql_body_execute(SqlBody* body, int nargs, const Datum* args, const bool* nulls) noexcept;

// Frees a body and its cached plans; only when no call of it is running.
void sql_body_drop(SqlBody* body) noexcept;

// The setting projection_offset.cache_sql_projectors; defined in _PG_init.
extern bool cache_sql_projectors;
void define_sql_projector_setting();

}  // namespace po::pg
