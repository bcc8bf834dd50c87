// ack_writer — a writer process for crash tests: a seeded random mix of
// Store::Put and Store::PutMany batches on one entity, which appends one
// line per ACKNOWLEDGED write to a log file before doing anything else.
//
//   ack_writer --config FILE --entity E --log FILE --seed S
//              [--ids N] [--ops N] [--batch N] [--put-share F]
//
// Log line (one per record written by a call that returned success):
//   <id> <version> <tag>\n
// where <tag> is the value of the document's "w" field, unique per write
// ("<seed>.<op>.<item>"), so that a checker can tell which write a stored
// version came from. Each acknowledgement is one write(2) on an O_APPEND
// descriptor, with no user-space buffering: once the call returns, a
// SIGKILL cannot lose the line (only a line cut by the kill *during* the
// write(2) can be partial; it is then the last line of the file and has no
// newline — readers ignore it).
//
// The documents carry "tag" (one of 16 values) and "grp" (one of 8) for the
// crash tests' indexes, and "n" (the op number). No deletes: versions of a
// record only grow, so "present with at least the logged version" is an
// exact check even when unacknowledged writes (killed before their log line)
// committed.
//
// Failed writes are reported on stderr as "ack_writer: failed: …" and not
// logged; the exit status is 0 when every write succeeded, 1 otherwise, 2 on
// usage or open errors. (The crash loop times a run with --ops 1 to know
// when a writer's writes begin.)

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <limits>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "libshard/config.h"
#include "libshard/document.h"
#include "libshard/store.h"

namespace {

struct Args {
  std::string config, entity, log;
  uint64_t seed = 1;
  int ids = 1000;
  long long ops = std::numeric_limits<long long>::max();
  int batch = 32;
  double put_share = 0.5;
};

[[noreturn]] void Usage(const std::string& why) {
  std::cerr << "ack_writer: " << why << "\n"
            << "usage: ack_writer --config FILE --entity E --log FILE --seed S"
               " [--ids N] [--ops N] [--batch N] [--put-share F]\n";
  std::exit(2);
}

Args ParseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (i + 1 >= argc) Usage("missing value for " + k);
    const std::string v = argv[++i];
    try {
      if (k == "--config") a.config = v;
      else if (k == "--entity") a.entity = v;
      else if (k == "--log") a.log = v;
      else if (k == "--seed") a.seed = std::stoull(v);
      else if (k == "--ids") a.ids = std::stoi(v);
      else if (k == "--ops") a.ops = std::stoll(v);
      else if (k == "--batch") a.batch = std::stoi(v);
      else if (k == "--put-share") a.put_share = std::stod(v);
      else Usage("unknown option " + k);
    } catch (const std::exception&) {
      Usage("bad value for " + k + ": " + v);
    }
  }
  if (a.config.empty() || a.entity.empty() || a.log.empty()) Usage("--config, --entity and --log are required");
  if (a.ids < 1 || a.batch < 1 || a.ops < 0) Usage("--ids and --batch must be >= 1, --ops >= 0");
  return a;
}

// The whole buffer, retrying short writes and EINTR; exits on a real error
// (an acknowledgement that cannot be logged must not be followed by more
// writes).
void WriteAll(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::cerr << "ack_writer: cannot write the log: " << std::strerror(errno) << "\n";
      std::_Exit(2);
    }
    done += static_cast<size_t>(n);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = ParseArgs(argc, argv);

  auto config = libshard::ClusterConfig::Load(args.config);
  if (!config.ok()) {
    std::cerr << "ack_writer: " << config.status().ToString() << "\n";
    return 2;
  }
  auto opened = libshard::Store::Open(*config);
  if (!opened.ok()) {
    std::cerr << "ack_writer: " << opened.status().ToString() << "\n";
    return 2;
  }
  libshard::Store& store = **opened;
  const int log = ::open(args.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) {
    std::cerr << "ack_writer: cannot open " << args.log << ": " << std::strerror(errno) << "\n";
    return 2;
  }

  std::mt19937_64 rng(args.seed);
  std::uniform_int_distribution<int> pick_id(0, args.ids - 1);
  std::uniform_int_distribution<int> pick_batch(2, std::max(2, args.batch));
  std::bernoulli_distribution single(args.put_share);
  const std::string prefix = std::to_string(args.seed) + ".";

  auto make_doc = [&](long long op, size_t item, std::string* tag) {
    *tag = prefix + std::to_string(op) + "." + std::to_string(item);
    const uint64_t r = rng();
    return libshard::Document::MakeObject({{"n", op},
                                           {"tag", "t" + std::to_string(r % 16)},
                                           {"grp", "g" + std::to_string((r >> 8) % 8)},
                                           {"w", *tag}});
  };

  long long failed = 0;
  for (long long op = 0; op < args.ops; ++op) {
    std::string line;
    if (single(rng)) {
      const std::string id = "k" + std::to_string(pick_id(rng));
      std::string tag;
      const libshard::Document doc = make_doc(op, 0, &tag);
      auto v = store.Put(args.entity, id, doc);
      if (!v.ok()) {
        ++failed;
        std::cerr << "ack_writer: failed: put " << id << ": " << v.status().ToString() << "\n";
        continue;
      }
      line = id + " " + std::to_string(*v) + " " + tag + "\n";
    } else {
      // Distinct ids: a batch never names a record twice.
      const int n = std::min(pick_batch(rng), args.ids);
      std::unordered_set<int> seen;
      std::vector<libshard::PutItem> items;
      std::vector<std::string> tags;
      while (static_cast<int>(items.size()) < n) {
        const int k = pick_id(rng);
        if (!seen.insert(k).second) continue;
        libshard::PutItem item;
        item.id = "k" + std::to_string(k);
        tags.emplace_back();
        item.doc = make_doc(op, items.size(), &tags.back());
        items.push_back(std::move(item));
      }
      auto versions = store.PutMany(args.entity, items);
      if (!versions.ok()) {
        ++failed;
        std::cerr << "ack_writer: failed: put_many of " << n << ": " << versions.status().ToString()
                  << "\n";
        continue;
      }
      for (size_t i = 0; i < items.size(); ++i) {
        line += items[i].id + " " + std::to_string((*versions)[i]) + " " + tags[i] + "\n";
      }
    }
    WriteAll(log, line);  // the acknowledgement, before anything else
  }
  ::close(log);
  return failed == 0 ? 0 : 1;
}
