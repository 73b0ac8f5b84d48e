#include "server_encoding.hpp"

#include "guard.hpp"

namespace po::pg {

std::size_t server_encoding_cut(std::string_view value, std::size_t max_bytes) {
    const int length = static_cast<int>(value.size());
    const int limit = static_cast<int>(max_bytes);
    const char* data = value.data();
    return static_cast<std::size_t>(pg_call([=]() noexcept { return pg_mbcliplen(data, length, limit); }));
}

}  // namespace po::pg
