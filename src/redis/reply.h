// Reply: one Redis (RESP2) reply, copied out of hiredis so callers never see hiredis types.
//
// Thread-safety: a plain value.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rendezvous::redis {

struct Reply {
  enum class Type : uint8_t {
    kString,   // bulk string: `str`
    kStatus,   // simple string such as OK: `str`
    kError,    // an error reply such as "ERR ..." or "OOM ...": `str`
    kInteger,  // `integer`
    kNil,      // the null bulk string or null array
    kArray,    // `elements`
  };
  Type type = Type::kNil;
  std::string str;
  int64_t integer = 0;
  std::vector<Reply> elements;

  bool IsError() const { return type == Type::kError; }
  bool IsStatus(const char* status) const { return type == Type::kStatus && str == status; }
};

}  // namespace rendezvous::redis
