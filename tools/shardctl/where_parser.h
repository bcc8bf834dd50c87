// `shardctl query --where EXPR`: one condition on an index column.
// Separate from query_command.cc (no CLI, no store) so it can be unit tested
// and fuzzed (fuzz/query_where_fuzzer.cc).
#pragma once

#include <string>

#include "libshard/config.h"
#include "libshard/index.h"
#include "libshard/status.h"

namespace shardctl {

// The accepted forms, for help texts and error messages.
inline constexpr const char* kWhereForms =
    "COL=V, COL!=V, COL<V, COL<=V, COL>V, COL>=V or COL=V1|V2|...";

// Parses `expr`. With `index` (the config's definition), the column must be
// one of its columns and values are converted to its type; without (an
// index only the catalog knows), JSON numbers and true/false become numbers
// and booleans, anything else a string. InvalidArgument says what is wrong.
libshard::Result<libshard::Condition> ParseWhere(const std::string& expr,
                                                 const libshard::IndexConfig* index);

}  // namespace shardctl
