// Decisions of the projection worker that need no server: the database
// list, retry backoff, what to do with an event whose projector fails, and
// where a handler's cursor goes after a batch.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace po {

// "a, b,,a" -> {"a", "b"}: names trimmed, empty and repeated ones dropped.
std::vector<std::string> split_database_list(const std::string& list);

// Delay before retrying an event that failed `attempts` times (>= 1):
// 200 ms doubled per attempt, at most 60 s.
int64_t retry_backoff_ms(int attempts);

enum class FailureAction {
    Retry,  // try the event again after the backoff
    Park,   // move it to the dead-letter table and go on
    Stop,   // stop the handler on it, keeping order
};

FailureAction on_failure(int attempts, int max_attempts, bool dead_letter);

// The cursor after a batch over (cursor, safe] that returned `rows` events
// (at most batch_size), the last at `last_position`: a full batch may have
// left events behind it, a short one read everything up to `safe`.
int64_t cursor_after_batch(int64_t safe, uint64_t rows, int batch_size, int64_t last_position);

// The next sleep while writers of a source are still running: short
// enough to follow a commit at once, doubling up to `ceiling_ms` when a
// transaction stays open.
int next_writer_poll_ms(int previous_ms, int ceiling_ms);

// The launcher's delay before starting again a database's worker that
// exited after running `ran_ms`, the previous delay having been
// `previous_ms` (0: none yet). A worker that keeps failing is restarted
// after 1 s, then 2 s, ... up to 60 s, so that it does not fill the log;
// one that ran for a minute or more starts the count again.
int64_t launcher_restart_delay_ms(int64_t previous_ms, int64_t ran_ms);

}  // namespace po
