#include "worker_policy.hpp"

#include <algorithm>

namespace po {

std::vector<std::string> split_database_list(const std::string& list) {
    std::vector<std::string> names;
    size_t start = 0;
    while (start <= list.size()) {
        size_t end = list.find(',', start);
        if (end == std::string::npos) end = list.size();
        size_t first = start, last = end;
        while (first < last && (list[first] == ' ' || list[first] == '\t')) first++;
        while (last > first && (list[last - 1] == ' ' || list[last - 1] == '\t')) last--;
        std::string name = list.substr(first, last - first);
        if (!name.empty() && std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
        start = end + 1;
    }
    return names;
}

int64_t retry_backoff_ms(int attempts) {
    const int64_t ceiling = 60000;
    int64_t delay = 200;
    for (int i = 1; i < attempts && delay < ceiling; i++) delay *= 2;
    return std::min(delay, ceiling);
}

FailureAction on_failure(int attempts, int max_attempts, bool dead_letter) {
    if (attempts < max_attempts) return FailureAction::Retry;
    return dead_letter ? FailureAction::Park : FailureAction::Stop;
}

int64_t cursor_after_batch(int64_t safe, uint64_t rows, int batch_size, int64_t last_position) {
    if (rows > 0 && rows >= static_cast<uint64_t>(batch_size)) return last_position;
    return safe;
}

int next_writer_poll_ms(int previous_ms, int ceiling_ms) {
    if (previous_ms <= 0) return 1;
    return std::min(previous_ms * 2, ceiling_ms);
}

int64_t launcher_restart_delay_ms(int64_t previous_ms, int64_t ran_ms) {
    const int64_t first = 1000, ceiling = 60000;
    if (previous_ms <= 0 || ran_ms >= ceiling) return first;
    return std::min(previous_ms * 2, ceiling);
}

}  // namespace po
