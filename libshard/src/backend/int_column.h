// IntColumn: an integer result column of a SOCI statement, fetched as text
// on MariaDB/MySQL and as a number elsewhere.
//
// Why: SOCI 4.0.3's MySQL backend turns every fetched integer into a number
// through a fresh std::istringstream — the stream's construction (ios init,
// locale) costs ~2.7k instructions a value, so the three integers of a
// MariaDB point get cost more than the rest of libshard's client work
// (callgrind, shard-bench get on MariaDB). The text protocol delivers the
// digits anyway: fetched into a std::string they are parsed by
// std::from_chars in a few dozen instructions. SOCI's PostgreSQL and SQLite
// backends convert numbers directly, so they keep the plain into().
//
// Thread-safety: as the statement it is bound to.
#pragma once

#include <soci/soci.h>

#include <charconv>
#include <cstdint>
#include <string>

#include "backend/dialect.h"

namespace libshard::backend {

class IntColumn {
 public:
  explicit IntColumn(const Dialect& d) : as_text_(d.backend() == Backend::kMysql) {}
  IntColumn(const IntColumn&) = delete;
  IntColumn& operator=(const IntColumn&) = delete;

  // Binds this column as the statement's next into().
  void BindInto(soci::details::prepare_temp_type& prep) {
    if (as_text_) {
      prep, soci::into(text_, ind_);
    } else {
      prep, soci::into(number_, ind_);
    }
  }

  bool null() const { return ind_ == soci::i_null; }

  // The fetched value; 0 when NULL. Throws soci::soci_error when the
  // server sent something that is not an integer.
  int64_t value() const {
    if (ind_ == soci::i_null) return 0;
    if (!as_text_) return number_;
    int64_t v = 0;
    const char* end = text_.data() + text_.size();
    auto [p, ec] = std::from_chars(text_.data(), end, v);
    if (ec != std::errc() || p != end) {
      throw soci::soci_error("integer column holds '" + text_ + "'");
    }
    return v;
  }

 private:
  const bool as_text_;
  long long number_ = 0;
  std::string text_;
  soci::indicator ind_ = soci::i_ok;
};

}  // namespace libshard::backend
