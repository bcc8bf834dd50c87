#include "libshard/status.h"

namespace libshard {

const char* CodeName(Code code) {
  switch (code) {
    case Code::kOk:
      return "OK";
    case Code::kNotFound:
      return "not found";
    case Code::kVersionConflict:
      return "version conflict";
    case Code::kUniqueViolation:
      return "unique violation";
    case Code::kInvalidArgument:
      return "invalid argument";
    case Code::kInvalidConfig:
      return "invalid config";
    case Code::kUnavailable:
      return "unavailable";
    case Code::kCorruption:
      return "corruption";
    case Code::kInternal:
      return "internal";
    case Code::kOutcomeUnknown:
      return "outcome unknown";
  }
  // A Code cast from an out-of-range int; say so rather than crash.
  return "unknown code";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out = CodeName(code_);
  if (!message_.empty()) {
    out += ": ";
    out += message_;
  }
  return out;
}

}  // namespace libshard
