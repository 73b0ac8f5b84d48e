// Running one of the extension's statements over a handler's offsets, for
// offset_release, offset_reset, offset_prune and offset_checkpoint: each
// statement returns a single bigint.
#pragma once

#include "args.hpp"
#include "spi.hpp"

namespace po::pg {

// The handler_name argument n, validated.
TextArg handler_arg(FunctionCallInfo fcinfo, int n);

// Runs statement with values and returns its single bigint result. handler
// names the handler in the error raised when a trigger skipped the write of
// a checkpoint.
int64_t run_count(FunctionCallInfo fcinfo, Statement statement, const Datum* values,
                  const SqlText& handler = std::nullopt);

// Runs statement over the handler in argument 0 and, when second_arg names
// it, argument 1, which must not be NULL.
int64_t run_for_handler(FunctionCallInfo fcinfo, Statement statement, const char* second_arg = nullptr);

// The non-NULL argument n, or an error naming it.
Datum required_arg(FunctionCallInfo fcinfo, int n, const char* name);

// A timestamptz as the local timestamp (session TimeZone) that a
// timestamp column with DEFAULT CURRENT_TIMESTAMP would store for it. The
// statements compare and assign local timestamps, so that no STABLE cast is
// applied to a column: Citus refuses those in UPDATE, DELETE and DO UPDATE.
Datum local_timestamp(TimestampTz t);

}  // namespace po::pg
