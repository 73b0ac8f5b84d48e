// Per-handler counters of claims, duplicates and divergences, in shared
// memory. They exist only when the library is in shared_preload_libraries;
// otherwise counting is a no-op and reading them raises an error.
#pragma once

#include <cstdint>
#include <string_view>

#include "guard.hpp"

namespace po::pg::counters {

struct Delta {
    uint64_t claims = 0;
    uint64_t duplicates = 0;
    uint64_t divergences = 0;
};

// Called from _PG_init while shared_preload_libraries is processed.
void install_hooks();

bool available();

// Adds to the handler's counters. Counts calls: a claim rolled back later
// still counted.
void add(std::string_view handler_name, const Delta& delta);

}  // namespace po::pg::counters
