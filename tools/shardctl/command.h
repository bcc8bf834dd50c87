// How commands plug into main: each *_commands.cc adds its CLI11
// subcommands and, for each, the function that runs it once parsing is done.
// A command returns its exit status, or throws CommandError (output.h),
// which main reports as one "shardctl: error: …" line.
#pragma once

#include <functional>
#include <vector>

#include <CLI/CLI.hpp>

#include "session.h"

namespace shardctl {

struct Command {
  CLI::App* app = nullptr;                // the parsed subcommand
  std::function<int(Session&)> run;
};

using CommandList = std::vector<Command>;

// record_commands.cc: put, get, delete, mget
void AddRecordCommands(CLI::App& app, CommandList& commands);
// bulk_commands.cc: import, export
void AddBulkCommands(CLI::App& app, CommandList& commands);
// cluster_commands.cc: init
void AddInitCommand(CLI::App& app, CommandList& commands);
// cluster_commands.cc: locate, stats
void AddPlacementCommands(CLI::App& app, CommandList& commands);
// query_command.cc: query
void AddQueryCommand(CLI::App& app, CommandList& commands);
// index_commands.cc: index status|build|verify|repair|drop
void AddIndexCommands(CLI::App& app, CommandList& commands);
// rebalance_commands.cc: rebalance, rebalance status, move
void AddRebalanceCommands(CLI::App& app, CommandList& commands);

}  // namespace shardctl
