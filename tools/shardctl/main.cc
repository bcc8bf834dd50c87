// shardctl: operate a libshard cluster from the shell.
//
//   shardctl [-c CONFIG] COMMAND …
//
// main parses the command line with CLI11, runs the chosen command, and turns
// every failure into one "shardctl: error: …" line and an exit status
// (output.h). The commands themselves live in *_commands.cc and use only the
// public libshard API.

#include <exception>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "command.h"
#include "output.h"
#include "session.h"

#ifndef SHARDCTL_VERSION
#define SHARDCTL_VERSION "unknown"
#endif

namespace shardctl {
namespace {

constexpr const char* kDescription =
    "shardctl - operate a libshard cluster: records, bulk import/export, "
    "placement, stats and online resharding.\n"
    "Results go to stdout, one JSON value per line; an error is one line\n"
    "\"shardctl: error: ...\" on stderr.";

constexpr const char* kFooter =
    "Exit status: 0 ok, 2 usage or invalid input/config, 3 not found,\n"
    "4 conflict (version mismatch or unique violation), 5 a database\n"
    "unreachable, 1 anything else.\n"
    "Run 'shardctl COMMAND --help' for a command's arguments.";

std::string CommandNames(const CLI::App& app) {
  std::string names;
  for (const CLI::App* sub : app.get_subcommands({})) {
    names += names.empty() ? "" : ", ";
    names += sub->get_name();
  }
  return names;
}

// One line for a CLI11 parse error, with a pointer to the right --help.
int ReportParseError(const CLI::App& app, const CLI::ParseError& error) {
  std::string help = "shardctl --help";
  const CLI::App* command = nullptr;
  for (const CLI::App* sub : app.get_subcommands()) command = sub;
  if (command != nullptr) help = "shardctl " + command->get_name() + " --help";

  std::string message = error.what();
  if (command == nullptr) {
    // No command was recognised: say what was wrong rather than CLI11's
    // generic text.
    const std::vector<std::string> rest = app.remaining();
    if (!rest.empty() && rest.front().rfind('-', 0) == 0) {
      message = "unknown option '" + rest.front() + "'";
    } else if (!rest.empty()) {
      message = "unknown command '" + rest.front() + "' (commands: " +
                CommandNames(app) + ")";
    } else if (dynamic_cast<const CLI::RequiredError*>(&error) != nullptr &&
               message.rfind("A subcommand", 0) == 0) {
      message = "no command given (commands: " + CommandNames(app) + ")";
    }
  }
  return ReportError(message + " (see '" + help + "')", kExitUsage);
}

int Run(int argc, char** argv) {
  InitOutput();

  CLI::App app(kDescription, "shardctl");
  app.footer(kFooter);
  app.get_formatter()->column_width(32);
  app.get_formatter()->label("SUBCOMMAND", "COMMAND");
  app.set_version_flag("--version", SHARDCTL_VERSION);
  app.require_subcommand(1);
  // Global options are accepted after the command too: `shardctl get u 1 -c x`.
  app.fallthrough();

  GlobalOptions globals;
  app.add_option("-c,--config", globals.config,
                 "cluster config file (default: $LIBSHARD_CONFIG, then "
                 "./libshard.yaml)")
      ->type_name("CONFIG");
  app.add_option("--connect-timeout", globals.connect_timeout,
                 "seconds to wait for a database connection before failing "
                 "with exit status 5 (default: 5)")
      ->type_name("SECONDS")
      ->check(CLI::Range(1, 3600).description(""));
  app.add_option("--id-format", globals.id_format,
                 "how ID arguments become ID bytes: text (UTF-8 as is), hex, "
                 "uuid (16 raw bytes) or u64 (8 big-endian bytes). Output "
                 "prints IDs as JSON strings, or {\"$bytes\":base64} when not "
                 "UTF-8 (default: text)")
      ->type_name("FORMAT")
      ->check(CLI::IsMember({"text", "hex", "uuid", "u64"}).description(""));

  CommandList commands;
  // --help lists the commands by group, groups in order of first appearance.
  auto add = [&](const char* group, void (*add_commands)(CLI::App&, CommandList&)) {
    const std::size_t first = commands.size();
    add_commands(app, commands);
    for (std::size_t i = first; i < commands.size(); ++i) commands[i].app->group(group);
  };
  add("Cluster", AddInitCommand);
  add("Records", AddRecordCommands);
  add("Bulk", AddBulkCommands);
  add("Indexes", AddQueryCommand);
  add("Indexes", AddIndexCommands);
  add("Cluster", AddPlacementCommands);
  add("Cluster", AddRebalanceCommands);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (error.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {
      return app.exit(error);  // --help, --version: printed on stdout
    }
    return ReportParseError(app, error);
  }

  Session session(globals);
  for (const Command& command : commands) {
    if (!command.app->parsed()) continue;
    int status;
    try {
      status = command.run(session);
    } catch (const CommandError& error) {
      FinishOutput();  // keep what was printed before the failure
      return ReportStatus(error.status());
    }
    const int output_status = FinishOutput();
    return status != kExitOk ? status : output_status;
  }
  return ReportError("no command given (see 'shardctl --help')", kExitUsage);
}

}  // namespace
}  // namespace shardctl

int main(int argc, char** argv) {
  try {
    return shardctl::Run(argc, argv);
  } catch (const std::exception& e) {
    return shardctl::ReportError(std::string("unexpected failure: ") + e.what(),
                                 shardctl::kExitFailure);
  } catch (...) {
    return shardctl::ReportError("unexpected failure", shardctl::kExitFailure);
  }
}
