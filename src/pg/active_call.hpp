// Calls in progress, counted so that the counts survive an abandoned frame:
// see core/active_calls.hpp. The transaction callbacks that drop abandoned
// entries are installed by _PG_init.
#pragma once

#include "guard.hpp"
#include "../core/active_calls.hpp"

namespace po::pg {

// Raises *counter for the lifetime of the object.
class ActiveCall {
public:
    explicit ActiveCall(int* counter);
    ~ActiveCall();
    ActiveCall(const ActiveCall&) = delete;
    ActiveCall& operator=(const ActiveCall&) = delete;

private:
    std::size_t handle_;
};

void install_active_call_callbacks();

}  // namespace po::pg
