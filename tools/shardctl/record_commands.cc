// put, get, delete, mget: one record (or a few) at a time.

#include <unistd.h>

#include <charconv>
#include <cstdint>
#include <optional>
#include <system_error>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "command.h"
#include "libshard/document.h"
#include "libshard/store.h"
#include "output.h"

namespace shardctl {
namespace {

using libshard::Document;
using libshard::Status;

const char* TypeName(const Document& doc) {
  switch (doc.type()) {
    case Document::Type::kNull: return "null";
    case Document::Type::kBool: return "a boolean";
    case Document::Type::kInt:
    case Document::Type::kUint:
    case Document::Type::kDouble: return "a number";
    case Document::Type::kString: return "a string";
    case Document::Type::kBytes: return "bytes";
    case Document::Type::kArray: return "an array";
    case Document::Type::kObject: return "an object";
  }
  return "a value";
}

// The document of a put: a JSON object, from the argument or stdin.
Document ParseDocument(const std::string& text, std::string_view where) {
  libshard::Result<Document> doc = Document::FromJson(text);
  if (!doc.ok()) {
    throw CommandError(Status::InvalidArgument(
        std::string(where) + ": " + doc.status().message()));
  }
  if (!doc->is_object()) {
    throw CommandError(Status::InvalidArgument(
        std::string(where) + ": a document must be a JSON object, got " +
        TypeName(*doc)));
  }
  return std::move(doc).value();
}

std::string ReadStdin() {
  std::string text{std::istreambuf_iterator<char>(std::cin),
                   std::istreambuf_iterator<char>()};
  if (std::cin.bad()) {
    throw CommandError(Status::InvalidArgument("cannot read the document from stdin"));
  }
  return text;
}

constexpr const char* kIfVersionHelp =
    "write only if the stored version is N (compare-and-set); 0 means "
    "\"only if the record does not exist\". A mismatch exits with status 4";

// A version number: decimal digits only. (CLI11's own integer conversion
// would accept "-1" as 2^64-1 and read "010" as octal.)
std::optional<uint64_t> ParseVersion(const std::string& text) {
  uint64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

const CLI::Validator kVersionNumber(
    [](std::string& text) -> std::string {
      return ParseVersion(text) ? "" : "expected a version number (0 or more), got '" + text + "'";
    },
    "");

libshard::WriteOptions MakeWriteOptions(const std::optional<std::string>& if_version) {
  libshard::WriteOptions options;
  if (if_version) options.if_version = ParseVersion(*if_version).value_or(0);
  return options;
}

CLI::Option* AddIfVersion(CLI::App* sub, std::optional<std::string>* if_version) {
  return sub
      ->add_option_function<std::string>(
          "--if-version", [if_version](const std::string& text) { *if_version = text; },
          kIfVersionHelp)
      ->type_name("N")
      ->check(kVersionNumber);
}

// --- put -------------------------------------------------------------------

struct PutArgs {
  std::string entity;
  std::string id;
  std::string json;
  std::optional<std::string> if_version;
  CLI::Option* json_option = nullptr;
};

int RunPut(Session& session, const PutArgs& args) {
  session.RequireEntity(args.entity);
  const libshard::Id id = session.ParseId(args.id);
  const bool from_stdin = args.json_option->count() == 0 || args.json == "-";
  if (from_stdin && isatty(STDIN_FILENO) == 1) {
    Note("reading the document from stdin; end it with Ctrl-D");
  }
  const Document doc = from_stdin ? ParseDocument(ReadStdin(), "document on stdin")
                                  : ParseDocument(args.json, "document argument");
  const uint64_t version = Unwrap(session.Store().Put(
      args.entity, id, doc, MakeWriteOptions(args.if_version)));
  PrintLine(std::to_string(version));
  return kExitOk;
}

// --- get -------------------------------------------------------------------

struct GetArgs {
  std::string entity;
  std::string id;
  bool meta = false;
};

int RunGet(Session& session, const GetArgs& args) {
  session.RequireEntity(args.entity);
  const libshard::Id id = session.ParseId(args.id);
  const libshard::Record record = Unwrap(session.Store().Get(args.entity, id));
  if (!args.meta) {
    PrintLine(record.doc.ToJson());
    return kExitOk;
  }
  std::string line = "{\"id\":";
  line += IdToJson(record.id);
  line += ",\"version\":";
  line += std::to_string(record.version);
  line += ",\"updated\":";
  line += std::to_string(record.updated_us);
  line += ",\"doc\":";
  line += record.doc.ToJson();
  line += '}';
  PrintLine(line);
  return kExitOk;
}

// --- delete ----------------------------------------------------------------

struct DeleteArgs {
  std::string entity;
  std::string id;
  std::optional<std::string> if_version;
};

int RunDelete(Session& session, const DeleteArgs& args) {
  session.RequireEntity(args.entity);
  const libshard::Id id = session.ParseId(args.id);
  const bool deleted = Unwrap(session.Store().Delete(
      args.entity, id, MakeWriteOptions(args.if_version)));
  PrintLine(deleted ? "1" : "0");
  return kExitOk;
}

// --- mget ------------------------------------------------------------------

struct MgetArgs {
  std::string entity;
  std::vector<std::string> ids;
};

int RunMget(Session& session, const MgetArgs& args) {
  session.RequireEntity(args.entity);
  std::vector<libshard::Id> ids;
  ids.reserve(args.ids.size());
  for (const std::string& text : args.ids) ids.push_back(session.ParseId(text));
  const std::vector<libshard::Record> records =
      Unwrap(session.Store().GetMany(args.entity, ids));
  for (const libshard::Record& record : records) {
    std::string line = "{\"id\":";
    line += IdToJson(record.id);
    line += ",\"doc\":";
    line += record.doc.ToJson();
    line += '}';
    PrintLine(line);
  }
  return kExitOk;
}

void AddEntityAndId(CLI::App* sub, std::string* entity, std::string* id) {
  sub->add_option("ENTITY", *entity, "entity name, as declared in the config")
      ->required();
  sub->add_option("ID", *id, "record ID: UTF-8 text used as the ID bytes "
                             "(see --id-format)")
      ->required();
}

}  // namespace

void AddRecordCommands(CLI::App& app, CommandList& commands) {
  {
    auto args = std::make_shared<PutArgs>();
    CLI::App* sub = app.add_subcommand(
        "put", "Create or replace a record; prints its new version");
    AddEntityAndId(sub, &args->entity, &args->id);
    args->json_option = sub->add_option(
        "JSON", args->json,
        "the document, a JSON object; read from stdin when omitted or \"-\"");
    AddIfVersion(sub, &args->if_version);
    sub->footer(
        "Integral JSON numbers are stored as integers, others as float64.\n"
        "Examples:\n"
        "  shardctl put users ada '{\"name\":\"Ada\",\"age\":36}'\n"
        "  shardctl put users ada --if-version 0 < ada.json");
    commands.push_back({sub, [args](Session& s) { return RunPut(s, *args); }});
  }
  {
    auto args = std::make_shared<GetArgs>();
    CLI::App* sub = app.add_subcommand(
        "get", "Print a record's document (exit status 3 when there is none)");
    AddEntityAndId(sub, &args->entity, &args->id);
    sub->add_flag("--meta", args->meta,
                  "print {\"id\",\"version\",\"updated\",\"doc\"}; updated is in "
                  "microseconds since the Unix epoch");
    commands.push_back({sub, [args](Session& s) { return RunGet(s, *args); }});
  }
  {
    auto args = std::make_shared<DeleteArgs>();
    CLI::App* sub = app.add_subcommand(
        "delete", "Delete a record; prints 1 if one was deleted, 0 if there was none");
    AddEntityAndId(sub, &args->entity, &args->id);
    AddIfVersion(sub, &args->if_version);
    commands.push_back({sub, [args](Session& s) { return RunDelete(s, *args); }});
  }
  {
    auto args = std::make_shared<MgetArgs>();
    CLI::App* sub = app.add_subcommand(
        "mget",
        "Fetch several records; prints one {\"id\",\"doc\"} line per record "
        "found, in request order (missing IDs are skipped)");
    sub->add_option("ENTITY", args->entity, "entity name, as declared in the config")
        ->required();
    sub->add_option("ID", args->ids, "record IDs (see --id-format)")->required();
    commands.push_back({sub, [args](Session& s) { return RunMget(s, *args); }});
  }
}

}  // namespace shardctl
