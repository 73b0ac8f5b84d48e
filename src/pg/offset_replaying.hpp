#pragma once

#include "guard.hpp"

namespace po::pg {

// Called from _PG_init.
void define_replaying_setting();

}  // namespace po::pg
