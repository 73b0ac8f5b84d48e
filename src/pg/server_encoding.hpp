// Text in the database encoding, which need not be UTF-8.
#pragma once

#include <cstddef>
#include <string_view>

namespace po::pg {

// The TextCutter of excerpt() for the database encoding (pg_mbcliplen):
// installed by _PG_init, so that a shortened id or handler name in a
// message never ends inside a character, which would make the message
// unconvertible to the client's encoding.
std::size_t server_encoding_cut(std::string_view value, std::size_t max_bytes);

}  // namespace po::pg
