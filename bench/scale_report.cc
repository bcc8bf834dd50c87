// shard-scale's output: a markdown table and a hand-drawn SVG (two panels:
// latency against records on a log axis, RSS against shards open).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "bench/scale_run.h"

namespace bench {
namespace {

std::string F(double v, int digits = 1) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string Count(size_t n) {
  if (n >= 1000000 && n % 1000000 == 0) return std::to_string(n / 1000000) + "M";
  if (n >= 1000 && n % 1000 == 0) return std::to_string(n / 1000) + "k";
  return std::to_string(n);
}

std::string MiB(uint64_t bytes) { return F(static_cast<double>(bytes) / 1048576.0, 1); }

}  // namespace

std::string ScaleMarkdown(const std::vector<SizePoint>& sizes, const std::vector<RssPoint>& rss,
                          const ScaleInfo& info) {
  std::ostringstream s;
  s << "Run: `" << info.command << "` on " << info.date << ", nproc " << info.nproc << ", "
    << info.cpu << ", " << F(info.elapsed_s, 0) << " s; load average at start `"
    << info.load_start << "`, at end `" << info.load_end << "`. " << info.get_ops
    << " gets and " << info.put_ops << " puts per size, loaded by PutMany of " << info.batch
    << " (" << info.load_retries << " batches rolled back and run again).";
  if (!info.reused.empty()) {
    s << " Sizes without a load rate were measured on the cluster loaded by an earlier run: "
      << info.reused << ".";
  }
  s << "\n\n";
  s << "### Point get and single put against records (SQLite, 4 shards)\n\n";
  s << "| records | get p50 µs | get p99 µs | get CPU µs/op | put p50 µs | put p99 µs | put CPU "
       "µs/op | shard files (4, after checkpoint) | WAL before checkpoint | B-tree depth s0: table "
       "/ id index | load records/s (this step) |\n";
  s << "|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const SizePoint& p : sizes) {
    s << "| " << Count(p.records) << " | " << F(p.get.p50) << " | " << F(p.get.p99) << " | "
      << F(p.get_cpu_us) << " | " << F(p.put.p50) << " | " << F(p.put.p99) << " | "
      << F(p.put_cpu_us) << " | " << MiB(p.db_bytes) << " MiB | " << MiB(p.wal_bytes)
      << " MiB | " << p.table_depth << " / " << p.id_index_depth << " | "
      << (p.load_rps > 0 ? F(p.load_rps, 0) : std::string("–")) << " |\n";
  }
  s << "\n### Process memory against shards open (SQLite)\n\n";
  s << "| shards | VmRSS before Open | after Open | after gets + puts on every shard | VmHWM | "
       "threads | shards touched |\n";
  s << "|---|---|---|---|---|---|---|\n";
  for (const RssPoint& p : rss) {
    s << "| " << p.shards << " | " << F(p.rss_start_kb / 1024.0) << " MiB | "
      << F(p.rss_open_kb / 1024.0) << " MiB | " << F(p.rss_kb / 1024.0) << " MiB | "
      << F(p.hwm_kb / 1024.0) << " MiB | " << p.threads << " | " << p.shards_touched << " |\n";
  }
  return s.str();
}

void WriteScaleSvg(const std::string& path, const std::vector<SizePoint>& sizes,
                   const std::vector<RssPoint>& rss) {
  const int w = 900, h = 420;
  const int px0 = 70, pw = 460, py0 = 50, ph = 300;  // left panel (latency)
  const int qx0 = 640, qw = 220;                      // right panel (RSS)
  std::ostringstream s;
  s << "<svg xmlns='http://www.w3.org/2000/svg' width='" << w << "' height='" << h
    << "' font-family='sans-serif' font-size='11'>\n<rect width='100%' height='100%' "
       "fill='white'/>\n";
  // Left: latency (µs, linear) against records (log10).
  double xmin = 1e9, xmax = 1, ymax = 1;
  for (const SizePoint& p : sizes) {
    xmin = std::min(xmin, std::log10(static_cast<double>(p.records)));
    xmax = std::max(xmax, std::log10(static_cast<double>(p.records)));
    ymax = std::max({ymax, p.get.p99, p.put.p99});
  }
  if (xmax <= xmin) xmax = xmin + 1;
  // Log y too: a p99 can be 100 × the p50 (a checkpoint, a preempted thread).
  double ymin = 1e9;
  for (const SizePoint& p : sizes) ymin = std::min({ymin, p.get.p50, p.put.p50});
  const double lo = std::floor(std::log10(std::max(ymin, 0.1)));
  const double hi = std::max(lo + 1, std::ceil(std::log10(ymax)));
  auto X = [&](double records) {
    return px0 + (std::log10(records) - xmin) / (xmax - xmin) * pw;
  };
  auto Y = [&](double us) {
    return py0 + ph - (std::log10(std::max(us, 0.1)) - lo) / (hi - lo) * ph;
  };
  s << "<text x='" << px0 << "' y='25' font-size='13'>Point get and single put, SQLite 4 shards:"
       " latency vs records (log-log)</text>\n";
  s << "<line x1='" << px0 << "' y1='" << py0 + ph << "' x2='" << px0 + pw << "' y2='"
    << py0 + ph << "' stroke='black'/><line x1='" << px0 << "' y1='" << py0 << "' x2='" << px0
    << "' y2='" << py0 + ph << "' stroke='black'/>\n";
  for (double e = lo; e <= hi; e += 1) {
    const double v = std::pow(10.0, e);
    s << "<line x1='" << px0 << "' y1='" << Y(v) << "' x2='" << px0 + pw << "' y2='" << Y(v)
      << "' stroke='#ddd'/><text x='" << px0 - 5 << "' y='" << Y(v) + 4
      << "' text-anchor='end'>" << F(v, v < 1 ? 1 : 0) << "</text>\n";
  }
  for (const SizePoint& p : sizes) {
    s << "<text x='" << X(static_cast<double>(p.records)) << "' y='" << py0 + ph + 16
      << "' text-anchor='middle'>" << Count(p.records) << "</text>\n";
  }
  s << "<text x='" << px0 + pw / 2 << "' y='" << py0 + ph + 34
    << "' text-anchor='middle'>records in the cluster</text>\n<text x='18' y='" << py0 + ph / 2
    << "' transform='rotate(-90 18 " << py0 + ph / 2 << ")' text-anchor='middle'>µs per "
    << "operation (log)</text>\n";
  struct Series {
    const char* name;
    const char* color;
    const char* dash;
    double (*value)(const SizePoint&);
  };
  const Series series[] = {
      {"get p50", "#1f77b4", "", [](const SizePoint& p) { return p.get.p50; }},
      {"get p99", "#1f77b4", "6,4", [](const SizePoint& p) { return p.get.p99; }},
      {"put p50", "#d62728", "", [](const SizePoint& p) { return p.put.p50; }},
      {"put p99", "#d62728", "6,4", [](const SizePoint& p) { return p.put.p99; }},
  };
  int legend = 0;
  for (const Series& se : series) {
    s << "<polyline fill='none' stroke='" << se.color << "' stroke-width='2' stroke-dasharray='"
      << se.dash << "' points='";
    for (const SizePoint& p : sizes) {
      s << X(static_cast<double>(p.records)) << "," << Y(se.value(p)) << " ";
    }
    s << "'/>\n";
    for (const SizePoint& p : sizes) {
      s << "<circle cx='" << X(static_cast<double>(p.records)) << "' cy='" << Y(se.value(p))
        << "' r='3' fill='" << se.color << "'/>\n";
    }
    const int ly = py0 + 10 + 16 * legend++;
    s << "<line x1='" << px0 + 10 << "' y1='" << ly << "' x2='" << px0 + 40 << "' y2='" << ly
      << "' stroke='" << se.color << "' stroke-width='2' stroke-dasharray='" << se.dash
      << "'/><text x='" << px0 + 46 << "' y='" << ly + 4 << "'>" << se.name << "</text>\n";
  }
  // Right: RSS (MiB) bars per shard count.
  double rmax = 1;
  for (const RssPoint& p : rss) rmax = std::max(rmax, p.hwm_kb / 1024.0);
  rmax = std::ceil(rmax / 10.0) * 10.0;
  auto RY = [&](double mib) { return py0 + ph - mib / rmax * ph; };
  s << "<text x='" << qx0 - 40 << "' y='25' font-size='13'>Process memory vs shards open</text>\n";
  s << "<line x1='" << qx0 << "' y1='" << py0 + ph << "' x2='" << qx0 + qw << "' y2='" << py0 + ph
    << "' stroke='black'/><line x1='" << qx0 << "' y1='" << py0 << "' x2='" << qx0 << "' y2='"
    << py0 + ph << "' stroke='black'/>\n";
  for (int t = 0; t <= 5; ++t) {
    const double v = rmax * t / 5;
    s << "<line x1='" << qx0 << "' y1='" << RY(v) << "' x2='" << qx0 + qw << "' y2='" << RY(v)
      << "' stroke='#ddd'/><text x='" << qx0 - 5 << "' y='" << RY(v) + 4
      << "' text-anchor='end'>" << F(v, 0) << "</text>\n";
  }
  const double slot = rss.empty() ? qw : static_cast<double>(qw) / static_cast<double>(rss.size());
  for (size_t i = 0; i < rss.size(); ++i) {
    const double x = qx0 + slot * static_cast<double>(i) + slot * 0.2;
    const double bw = slot * 0.3;
    const double rss_mib = rss[i].rss_kb / 1024.0, hwm_mib = rss[i].hwm_kb / 1024.0;
    s << "<rect x='" << x << "' y='" << RY(rss_mib) << "' width='" << bw << "' height='"
      << py0 + ph - RY(rss_mib) << "' fill='#2ca02c'/>\n<rect x='" << x + bw << "' y='"
      << RY(hwm_mib) << "' width='" << bw << "' height='" << py0 + ph - RY(hwm_mib)
      << "' fill='#98df8a'/>\n<text x='" << x + bw << "' y='" << py0 + ph + 16
      << "' text-anchor='middle'>" << rss[i].shards << "</text>\n<text x='" << x + bw << "' y='"
      << RY(hwm_mib) - 4 << "' text-anchor='middle'>" << F(rss_mib, 0) << "</text>\n";
  }
  s << "<text x='" << qx0 + qw / 2 << "' y='" << py0 + ph + 34
    << "' text-anchor='middle'>SQLite shards open</text>\n<text x='" << qx0 - 45 << "' y='"
    << py0 + ph / 2 << "' transform='rotate(-90 " << qx0 - 45 << " " << py0 + ph / 2
    << ")' text-anchor='middle'>MiB</text>\n";
  s << "<rect x='" << qx0 + 10 << "' y='" << py0 + 2 << "' width='12' height='10' "
    << "fill='#2ca02c'/><text x='" << qx0 + 26 << "' y='" << py0 + 11
    << "'>VmRSS (label)</text>\n<rect x='" << qx0 + 10 << "' y='" << py0 + 18
    << "' width='12' height='10' fill='#98df8a'/><text x='" << qx0 + 26 << "' y='" << py0 + 27
    << "'>VmHWM</text>\n";
  s << "</svg>\n";
  std::ofstream(path) << s.str();
}

}  // namespace bench
