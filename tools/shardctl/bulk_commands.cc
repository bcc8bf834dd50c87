// import and export: whole entities as JSON Lines.
//
// import reads {"id":…,"doc":{…}} lines and writes them in batches through
// Store::PutMany, which groups each batch per shard (one transaction per
// shard, shards in parallel). export walks every shard through Store::Scan
// and prints {"id","version","doc"} lines, so `export | import` copies an
// entity (the version of each line is ignored by import).

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "command.h"
#include "libshard/document.h"
#include "libshard/id.h"
#include "libshard/store.h"
#include "output.h"

namespace shardctl {
namespace {

using libshard::Document;
using libshard::Status;
using Clock = std::chrono::steady_clock;

// Progress of a long command on stderr: on a terminal one line rewritten in
// place a few times a second; otherwise (logs, CI) a line every
// kLineEvery records. Then one summary line.
class Progress {
 public:
  static constexpr uint64_t kLineEvery = 100000;

  Progress(std::string what, bool quiet)
      : what_(std::move(what)),
        quiet_(quiet),
        tty_(isatty(STDERR_FILENO) == 1),
        start_(Clock::now()),
        last_shown_(start_) {}

  void Update(uint64_t count) {
    if (quiet_) return;
    const Clock::time_point now = Clock::now();
    if (tty_) {
      if (now - last_shown_ < std::chrono::milliseconds(200)) return;
      last_shown_ = now;
      NoteInPlace(what_ + ": " + std::to_string(count) + " records, " +
                  Rate(count, now) + " records/s");
    } else if (count >= next_line_at_) {
      next_line_at_ = (count / kLineEvery + 1) * kLineEvery;
      Note(what_ + ": " + std::to_string(count) + " records, " +
           Rate(count, now) + " records/s");
    }
  }

  // "imported 2000 records into users in 0.41 s (4878 records/s)"
  void Done(std::string_view summary, uint64_t count) {
    if (quiet_) return;
    const Clock::time_point now = Clock::now();
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.2f", Seconds(now));
    Note(std::string(summary) + " in " + seconds + " s (" + Rate(count, now) +
         " records/s)");
  }

 private:
  double Seconds(Clock::time_point now) const {
    return std::chrono::duration<double>(now - start_).count();
  }
  std::string Rate(uint64_t count, Clock::time_point now) const {
    const double seconds = Seconds(now);
    const double rate = seconds > 1e-6 ? static_cast<double>(count) / seconds : 0.0;
    return std::to_string(static_cast<uint64_t>(rate + 0.5));
  }

  std::string what_;
  bool quiet_;
  bool tty_;
  Clock::time_point start_;
  Clock::time_point last_shown_;
  uint64_t next_line_at_ = kLineEvery;
};

// --- import ----------------------------------------------------------------

struct ImportArgs {
  std::string entity;
  std::string file;
  int batch = 1000;
  bool quiet = false;
};

// One JSONL line: {"id": "<text>" | {"$bytes":"<base64>"}, "doc": {…}}.
// Other members (such as the "version" export writes) are ignored.
// Returns the problem, or an empty string with *item filled.
std::string ParseImportLine(const std::string& line, libshard::PutItem* item) {
  libshard::Result<Document> parsed = Document::FromJson(line);
  if (!parsed.ok()) return parsed.status().message();
  if (!parsed->is_object()) {
    return "expected an object {\"id\":…,\"doc\":{…}}";
  }
  bool have_id = false;
  bool have_doc = false;
  for (auto& [key, value] : parsed->as_object()) {
    if (key == "id" && !have_id) {
      if (!value.is_string() && !value.is_bytes()) {
        return "\"id\" must be a JSON string (or {\"$bytes\":\"<base64>\"})";
      }
      item->id = value.as_string();
      have_id = true;
    } else if (key == "doc" && !have_doc) {
      if (!value.is_object()) return "\"doc\" must be a JSON object";
      item->doc = std::move(value);
      have_doc = true;
    }
  }
  if (!have_id) return "missing \"id\"";
  if (!have_doc) return "missing \"doc\"";
  if (item->id.empty()) return "\"id\" is empty";
  if (item->id.size() > libshard::kMaxIdBytes) {
    return "\"id\" is longer than " + std::to_string(libshard::kMaxIdBytes) +
           " bytes";
  }
  return "";
}

// "1 record", "2 records".
std::string Records(uint64_t n) {
  return std::to_string(n) + (n == 1 ? " record" : " records");
}

bool IsBlank(const std::string& line) {
  for (char c : line) {
    if (c != ' ' && c != '\t' && c != '\r') return false;
  }
  return true;
}

int RunImport(Session& session, const ImportArgs& args) {
  session.RequireEntity(args.entity);
  const bool from_stdin = args.file == "-";
  const std::string source = from_stdin ? "<stdin>" : args.file;
  std::ifstream file;
  if (!from_stdin) {
    file.open(args.file, std::ios::binary);
    if (!file) {
      throw CommandError(Status::InvalidArgument(
          "cannot open " + args.file + ": " + std::strerror(errno)));
    }
  }
  std::istream& in = from_stdin ? std::cin : file;
  // Connect before consuming the input: a bad config or an unreachable
  // catalog fails without reading anything.
  libshard::Store& store = session.Store();

  Progress progress("import " + args.entity, args.quiet);
  std::vector<libshard::PutItem> batch;
  batch.reserve(static_cast<std::size_t>(args.batch));
  uint64_t imported = 0;
  uint64_t line_number = 0;
  uint64_t batch_first_line = 0;
  uint64_t batch_last_line = 0;

  auto flush = [&]() {
    if (batch.empty()) return;
    libshard::Result<std::vector<uint64_t>> written = store.PutMany(args.entity, batch);
    if (!written.ok()) {
      const Status& error = written.status();
      throw CommandError(Status(
          error.code(), source + ": lines " + std::to_string(batch_first_line) +
                            "-" + std::to_string(batch_last_line) + ": " +
                            error.message() + " (" + Records(imported) +
                            " imported before this batch)"));
    }
    imported += batch.size();
    batch.clear();
    progress.Update(imported);
  };

  std::string line;
  while (std::getline(in, line)) {
    ++line_number;
    if (IsBlank(line)) continue;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    libshard::PutItem item;
    const std::string problem = ParseImportLine(line, &item);
    if (!problem.empty()) {
      // Everything before the bad line is written, so a fixed file can be
      // re-imported (puts without --if-version are idempotent).
      flush();
      throw CommandError(Status::InvalidArgument(
          source + ":" + std::to_string(line_number) + ": " + problem + " (" +
          Records(imported) + " before this line imported)"));
    }
    if (batch.empty()) batch_first_line = line_number;
    batch_last_line = line_number;
    batch.push_back(std::move(item));
    if (batch.size() >= static_cast<std::size_t>(args.batch)) flush();
  }
  if (in.bad()) {
    throw CommandError(Status::InvalidArgument(
        "reading " + source + " after line " + std::to_string(line_number) +
        ": " + std::strerror(errno)));
  }
  flush();
  progress.Done("imported " + Records(imported) + " into " + args.entity, imported);
  PrintLine(std::to_string(imported));
  return kExitOk;
}

// --- export ----------------------------------------------------------------

struct ExportArgs {
  std::string entity;
};

int RunExport(Session& session, const ExportArgs& args) {
  session.RequireEntity(args.entity);
  libshard::Store& store = session.Store();
  std::string line;
  const Status status = store.Scan(args.entity, nullptr, [&](libshard::Record&& record) {
    line.clear();
    line += "{\"id\":";
    line += IdToJson(record.id);
    line += ",\"version\":";
    line += std::to_string(record.version);
    line += ",\"doc\":";
    line += record.doc.ToJson();
    line += '}';
    PrintLine(line);
    return !OutputFailed();  // stop scanning once nobody can read the output
  });
  if (OutputFailed()) return FinishOutput();
  Check(status);
  return kExitOk;
}

}  // namespace

void AddBulkCommands(CLI::App& app, CommandList& commands) {
  {
    auto args = std::make_shared<ImportArgs>();
    CLI::App* sub = app.add_subcommand(
        "import",
        "Write records from JSON Lines {\"id\":…,\"doc\":{…}}; prints the count");
    sub->add_option("ENTITY", args->entity, "entity name, as declared in the config")
        ->required();
    sub->add_option("FILE", args->file, "JSONL file, or - for stdin")->required();
    sub->add_option("--batch", args->batch,
                    "records per PutMany call (one transaction per shard)")
        ->type_name("N")
        ->capture_default_str()
        ->check(CLI::Range(1, 100000));
    sub->add_flag("-q,--quiet", args->quiet, "no progress or summary on stderr");
    sub->footer(
        "Each line is {\"id\":\"<text>\",\"doc\":{…}}; an id that is not UTF-8 is\n"
        "written {\"$bytes\":\"<base64>\"} (as export prints it). Other members,\n"
        "such as export's \"version\", are ignored. Records are created or\n"
        "replaced. A bad line stops the import with exit status 2, naming\n"
        "FILE:LINE; every line before it has been written.\n"
        "Example:\n"
        "  shardctl export users | shardctl -c other.yaml import users -");
    commands.push_back({sub, [args](Session& s) { return RunImport(s, *args); }});
  }
  {
    auto args = std::make_shared<ExportArgs>();
    CLI::App* sub = app.add_subcommand(
        "export",
        "Print every record of an entity as JSON Lines {\"id\",\"version\",\"doc\"}");
    sub->add_option("ENTITY", args->entity, "entity name, as declared in the config")
        ->required();
    sub->footer("Shards are read in parallel; lines come in no particular order.");
    commands.push_back({sub, [args](Session& s) { return RunExport(s, *args); }});
  }
}

}  // namespace shardctl
