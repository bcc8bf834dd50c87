#include "bench/report.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "bench/stats.h"

namespace bench {
namespace {

std::string Fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

// Three significant digits with k/M suffixes: 1.23M, 123k, 12.3k, 980.
std::string Tput(double v) {
  if (v >= 1e6) return Fmt(v >= 1e7 ? "%.1fM" : "%.2fM", v / 1e6);
  if (v >= 1e3) return Fmt(v >= 1e5 ? "%.0fk" : (v >= 1e4 ? "%.1fk" : "%.2fk"), v / 1e3);
  return Fmt("%.0f", v);
}

std::string Lat(double us) {
  if (us >= 1e4) return Fmt("%.0f", us);
  if (us >= 100) return Fmt("%.0f", us);
  if (us >= 10) return Fmt("%.1f", us);
  return Fmt("%.2f", us);
}

std::string Ratio(double v) { return Fmt(v >= 10 ? "%.1f" : "%.2f", v); }

std::string SpreadText(const Spread& s, std::string (*f)(double)) {
  if (s.empty) return "–";
  return f(s.median) + " (" + f(s.min) + "–" + f(s.max) + ")";
}

std::string LatText(const std::vector<double>& samples) {
  if (samples.empty()) return "–";
  Percentiles p = LatencyPercentiles(samples);
  return Lat(p.p50) + " / " + Lat(p.p99) + " / " + Lat(p.p999);
}

const std::vector<double>* Metric(const WorkloadResult& r, const std::string& name) {
  if (name == "ratio") return &r.ratio;
  auto it = r.metrics.find(name);
  return it == r.metrics.end() ? nullptr : &it->second;
}

std::string Label(const WorkloadResult& r) { return r.id + "/" + r.backend; }

bool Numeric(const std::string& metric) {
  return metric.find("rps") != std::string::npos ||
         (metric.size() > 6 && metric.compare(metric.size() - 6, 6, "_count") == 0);
}

bool Millis(const std::string& metric) {
  return metric.size() > 3 && metric.compare(metric.size() - 3, 3, "_ms") == 0;
}

std::string Ms(double v) {
  return Fmt(v >= 100 ? "%.0f" : v >= 10 ? "%.1f" : v >= 0.1 ? "%.2f" : "%.3f", v);
}

// How a metric is printed: throughputs and counts with k/M, "_ms" in
// milliseconds, the rest as ratios.
using Formatter = std::string (*)(double);
Formatter FormatFor(const std::string& metric) {
  if (Numeric(metric)) return Tput;
  if (Millis(metric)) return Ms;
  return Ratio;
}

// The value a target is judged on: the worst round (min for a >= target,
// max for a <= target). A median would call a target met that half the
// rounds miss (issue 9).
double Judged(const Target& t, const Spread& s) { return t.at_most ? s.max : s.min; }

std::string Compares(const WorkloadResult& r) {
  return r.compares.empty() ? "**unstated**" : r.compares;
}

// CPU µs per unit, median over rounds.
std::string Cpu(const std::vector<double>& v) {
  return v.empty() ? "–" : Lat(Median(v));
}
bool Meets(const Target& t, double v) { return t.at_most ? v <= t.threshold : v >= t.threshold; }

}  // namespace

std::vector<TargetOutcome> EvaluateTargets(const std::vector<WorkloadResult>& results) {
  std::vector<TargetOutcome> out;
  for (const WorkloadResult& r : results) {
    for (const Target& t : r.targets) {
      TargetOutcome o{&r, &t};
      const std::vector<double>* m = Metric(r, t.metric);
      if (r.skipped.empty() && m != nullptr && !m->empty()) {
        Spread s = Summarize(*m);
        o.value = s.median;
        o.min = s.min;
        o.max = s.max;
        o.evaluated = true;
        o.rounds = m->size();
        o.met = Meets(t, Judged(t, s));
      }
      out.push_back(o);
    }
  }
  return out;
}

std::string Markdown(const std::vector<WorkloadResult>& results, const RunInfo& info) {
  std::ostringstream md;
  md << "| workload | backend | compares: B is | A | B | unit | A median (min–max) "
        "| B median (min–max) | A/B ratio median (min–max) | CPU µs/unit A | CPU µs/unit B "
        "| latency µs p50 / p99 / p99.9: A | B | target (worst round) |\n";
  md << "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const WorkloadResult& r : results) {
    if (!r.skipped.empty()) {
      md << "| " << r.id << " | " << r.backend << " | " << Compares(r) << " | " << r.skipped
         << " | | | | | | | | | | |\n";
      continue;
    }
    std::string target;
    for (const Target& t : r.targets) {
      const std::vector<double>* m = Metric(r, t.metric);
      bool met = m && !m->empty() && Meets(t, Judged(t, Summarize(*m)));
      target += (target.empty() ? "" : "; ") + t.text + ": " + (met ? "**met**" : "**NOT met**");
    }
    md << "| " << r.id << " | " << r.backend << " | " << Compares(r) << " | " << r.a_label
       << " | " << r.b_label << " | " << r.unit << " | " << SpreadText(Summarize(r.a_tput), Tput)
       << " | " << SpreadText(Summarize(r.b_tput), Tput) << " | "
       << SpreadText(Summarize(r.ratio), Ratio) << " | " << Cpu(r.a_cpu_us) << " | "
       << Cpu(r.b_cpu_us) << " | " << LatText(r.a_lat_us) << " | " << LatText(r.b_lat_us)
       << " | " << (target.empty() ? "–" : target) << " |\n";
  }

  md << "\n**Targets** — each judged on its worst round: met only when the minimum over "
        "rounds clears a ≥ target (the maximum for a ≤ target); the median is shown beside "
        "it.\n\n";
  for (const TargetOutcome& o : EvaluateTargets(results)) {
    md << "- " << o.result->id << " (" << o.result->backend << "): " << o.target->text << " — ";
    if (!o.evaluated) {
      md << "not evaluated (" << o.result->skipped << ")\n";
      continue;
    }
    auto f = FormatFor(o.target->metric);
    md << (o.met ? "**met**" : "**NOT met**") << ": " << o.target->metric << " = worst of "
       << o.rounds << (o.rounds == 1 ? " round (one round only)" : " rounds") << " "
       << f(o.target->at_most ? o.max : o.min) << "; median " << f(o.value) << " ("
       << f(o.min) << "–" << f(o.max) << ")\n";
  }

  bool extra = false;
  for (const WorkloadResult& r : results) {
    if (!r.skipped.empty() || (r.metrics.empty() && r.note.empty())) continue;
    if (!extra) md << "\n**Details**\n\n";
    extra = true;
    md << "- " << r.id << " (" << r.backend << "): " << r.title;
    if (!r.note.empty()) md << "; " << r.note;
    md << "; latency sample = one " << r.lat_unit;
    for (const auto& [name, values] : r.metrics) {
      md << "; " << name << " = " << SpreadText(Summarize(values), FormatFor(name));
    }
    md << "\n";
  }
  md << "\nA/B ratio is computed per round (A and B alternate which runs first) and then "
        "summarized; throughput is per second of the unit shown. CPU µs/unit: process CPU "
        "time (user + system, all threads) of the side's timed run divided by its units, "
        "median over rounds. \"compares\" says what side B is: hand-written SOCI, the same "
        "with one thread per shard (libshard's parallelism), libshard against itself, or "
        "the raw sqlite3 C API. Run: `"
     << info.command << "` on " << info.date << ", nproc " << info.nproc
     << (info.cpu.empty() ? "" : ", " + info.cpu) << ", " << Fmt("%.0f", info.elapsed_s)
     << " s";
  if (!info.load_start.empty()) {
    md << ", load average " << info.load_start << " at the start, " << info.load_end
       << " at the end";
  }
  md << ".\n";
  for (const std::string& n : info.notes) md << "\n" << n << "\n";
  return md.str();
}

void WriteJson(const std::string& path, const std::vector<WorkloadResult>& results,
               const RunInfo& info) {
  using nlohmann::json;
  auto spread = [](const std::vector<double>& v) {
    Spread s = Summarize(v);
    return json{{"median", s.median}, {"min", s.min}, {"max", s.max}, {"rounds", v}};
  };
  auto lat = [](const std::vector<double>& v) {
    Percentiles p = LatencyPercentiles(v);
    return json{{"p50", p.p50}, {"p99", p.p99}, {"p999", p.p999}, {"samples", p.samples}};
  };
  json j;
  j["run"] = {{"command", info.command}, {"date", info.date},  {"nproc", info.nproc},
              {"host", info.host},       {"cpu", info.cpu},    {"quick", info.quick},
              {"elapsed_s", info.elapsed_s}, {"notes", info.notes},
              {"load_start", info.load_start}, {"load_end", info.load_end}};
  json rs = json::array();
  for (const WorkloadResult& r : results) {
    json o{{"id", r.id}, {"backend", r.backend}, {"title", r.title}, {"unit", r.unit},
           {"compares", r.compares}, {"a_label", r.a_label}, {"b_label", r.b_label},
           {"note", r.note}, {"latency_unit", r.lat_unit}};
    if (!r.skipped.empty()) {
      o["skipped"] = r.skipped;
    } else {
      o["a_throughput"] = spread(r.a_tput);
      o["b_throughput"] = spread(r.b_tput);
      o["ratio"] = spread(r.ratio);
      // Absent where the sides overlap in one run (index_build, rebalance).
      if (!r.a_cpu_us.empty()) o["a_cpu_us_per_unit"] = spread(r.a_cpu_us);
      if (!r.b_cpu_us.empty()) o["b_cpu_us_per_unit"] = spread(r.b_cpu_us);
      o["a_latency_us"] = lat(r.a_lat_us);
      o["b_latency_us"] = lat(r.b_lat_us);
      json m = json::object();
      for (const auto& [name, values] : r.metrics) m[name] = spread(values);
      o["metrics"] = m;
    }
    rs.push_back(o);
  }
  j["results"] = rs;
  json ts = json::array();
  for (const TargetOutcome& o : EvaluateTargets(results)) {
    json t{{"workload", o.result->id}, {"backend", o.result->backend},
           {"target", o.target->text}, {"metric", o.target->metric},
           {"threshold", o.target->threshold}, {"evaluated", o.evaluated},
           {"rule", o.target->at_most ? "max over rounds <= threshold"
                                      : "min over rounds >= threshold"}};
    if (o.evaluated) {
      t["value"] = o.value;  // the median, for reference
      t["judged"] = o.target->at_most ? o.max : o.min;
      t["min"] = o.min;
      t["max"] = o.max;
      t["rounds"] = o.rounds;
      t["met"] = o.met;
    } else {
      t["reason"] = o.result->skipped;
    }
    ts.push_back(t);
  }
  j["targets"] = ts;
  std::ofstream f(path);
  if (!f) throw BenchError("cannot write " + path);
  f << j.dump(2) << "\n";
}

// --- chart -------------------------------------------------------------------

namespace {

struct ChartRow {
  std::string label;
  Spread ratio;
  double target = NAN;  // ratio target, if any
  Percentiles a, b;
};

std::vector<ChartRow> ChartRows(const std::vector<WorkloadResult>& results) {
  std::vector<ChartRow> rows;
  for (const WorkloadResult& r : results) {
    if (!r.skipped.empty() || r.ratio.empty()) continue;
    ChartRow row;
    row.label = Label(r);
    row.ratio = Summarize(r.ratio);
    for (const Target& t : r.targets) {
      if (t.metric == "ratio") row.target = t.threshold;
    }
    row.a = LatencyPercentiles(r.a_lat_us);
    row.b = LatencyPercentiles(r.b_lat_us);
    rows.push_back(row);
  }
  return rows;
}

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else out += c;
  }
  return out;
}

bool Gnuplot(const std::string& path, const std::vector<ChartRow>& rows) {
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) return false;
  const std::string base = path.substr(0, path.size() - (path.size() > 4 ? 4 : 0));
  const std::string ratios = base + ".ratios.dat", lats = base + ".latency.dat",
                    script = base + ".gp";
  {
    std::ofstream f(ratios);
    f << "# label median min max target\n";
    for (const ChartRow& r : rows) {
      f << r.label << " " << r.ratio.median << " " << r.ratio.min << " " << r.ratio.max << " "
        << (std::isnan(r.target) ? std::string("NaN") : std::to_string(r.target)) << "\n";
    }
  }
  {
    std::ofstream f(lats);
    f << "# label A_p50 A_p99 A_p999 B_p50 B_p99 B_p999 (microseconds)\n";
    for (const ChartRow& r : rows) {
      f << r.label << " " << r.a.p50 << " " << r.a.p99 << " " << r.a.p999 << " " << r.b.p50
        << " " << r.b.p99 << " " << r.b.p999 << "\n";
    }
  }
  const bool png = path.size() > 4 && path.substr(path.size() - 4) == ".png";
  {
    std::ofstream f(script);
    f << (png ? "set terminal pngcairo size 1400,1000 noenhanced font 'sans,10'\n"
              : "set terminal svg size 1400,1000 dynamic noenhanced font 'sans,11' background rgb 'white'\n");
    f << "set output '" << path << "'\n"
      << "set datafile missing 'NaN'\n"
      << "set multiplot layout 2,1 title 'shard-bench: libshard (A) vs hand-written SOCI / "
         "reference (B)'\n"
      << "set style data histogram\n"
      << "set style fill solid 0.7 border -1\n"
      << "set xtics rotate by -25 left\n"
      << "set grid ytics\n"
      << "set key top left\n"
      << "set title 'Throughput ratio A/B per round: median, whiskers min-max; red = target'\n"
      << "set style histogram errorbars gap 1 lw 1\n"
      << "set yrange [0:*]\n"
      << "set ylabel 'A/B'\n"
      << "plot '" << ratios << "' using 2:3:4:xtic(1) title 'ratio' lc rgb '#4472c4', \\\n"
      << "     '' using 0:5 with points pt 9 ps 1.6 lc rgb 'red' title 'target'\n"
      << "set title 'Latency per operation or call (microseconds, log scale)'\n"
      << "set style histogram clustered gap 1\n"
      << "set logscale y\n"
      << "set yrange [*:*]\n"
      << "set ylabel 'µs'\n"
      << "plot '" << lats << "' using 2:xtic(1) title 'A p50' lc rgb '#9dc3e6', \\\n"
      << "     '' using 3 title 'A p99' lc rgb '#4472c4', \\\n"
      << "     '' using 4 title 'A p99.9' lc rgb '#1f3864', \\\n"
      << "     '' using 5 title 'B p50' lc rgb '#f8cbad', \\\n"
      << "     '' using 6 title 'B p99' lc rgb '#ed7d31', \\\n"
      << "     '' using 7 title 'B p99.9' lc rgb '#843c0c'\n"
      << "unset multiplot\n";
  }
  std::string cmd = "gnuplot '" + script + "' 2>'" + base + ".gnuplot.log'";
  return std::system(cmd.c_str()) == 0;
}

// A plain SVG (no gnuplot): ratio bars with min–max whiskers and target
// marks, and latency bars on a log scale.
void HandSvg(const std::string& path, const std::vector<ChartRow>& rows) {
  const int w = 1400, h = 1000, left = 70, right = 30, top = 60, panel = 360;
  const int n = static_cast<int>(rows.size());
  const double slot = n ? static_cast<double>(w - left - right) / n : 1;
  std::ostringstream s;
  s << "<svg xmlns='http://www.w3.org/2000/svg' width='" << w << "' height='" << h
    << "' font-family='sans-serif' font-size='11'>\n<rect width='100%' height='100%' "
       "fill='white'/>\n<text x='"
    << w / 2 << "' y='24' text-anchor='middle' font-size='16'>shard-bench: libshard (A) vs "
    << "hand-written SOCI / reference (B)</text>\n";
  // Panel 1: ratios.
  double ymax = 1.0;
  for (const ChartRow& r : rows) {
    ymax = std::max({ymax, r.ratio.max, std::isnan(r.target) ? 0.0 : r.target});
  }
  ymax *= 1.1;
  auto y1 = [&](double v) { return top + panel - v / ymax * panel; };
  s << "<text x='" << left << "' y='" << top - 8
    << "'>Throughput ratio A/B: median bar, min–max whisker, red tick = target</text>\n";
  for (double g = 0; g <= ymax; g += ymax > 4 ? 1.0 : 0.25) {
    s << "<line x1='" << left << "' x2='" << w - right << "' y1='" << y1(g) << "' y2='" << y1(g)
      << "' stroke='#ddd'/><text x='" << left - 6 << "' y='" << y1(g) + 4
      << "' text-anchor='end'>" << Fmt("%.2f", g) << "</text>\n";
  }
  for (int i = 0; i < n; ++i) {
    const ChartRow& r = rows[static_cast<size_t>(i)];
    double x = left + slot * i, bw = slot * 0.6, cx = x + slot / 2;
    s << "<rect x='" << cx - bw / 2 << "' y='" << y1(r.ratio.median) << "' width='" << bw
      << "' height='" << y1(0) - y1(r.ratio.median) << "' fill='#4472c4'/>\n";
    s << "<line x1='" << cx << "' x2='" << cx << "' y1='" << y1(r.ratio.min) << "' y2='"
      << y1(r.ratio.max) << "' stroke='black'/>\n";
    if (!std::isnan(r.target)) {
      s << "<line x1='" << cx - bw / 2 - 4 << "' x2='" << cx + bw / 2 + 4 << "' y1='"
        << y1(r.target) << "' y2='" << y1(r.target) << "' stroke='red' stroke-width='3'/>\n";
    }
    s << "<text x='" << cx << "' y='" << y1(r.ratio.median) - 4 << "' text-anchor='middle'>"
      << Ratio(r.ratio.median) << "</text>\n";
    s << "<text transform='translate(" << cx << "," << y1(0) + 12
      << ") rotate(25)' font-size='10'>" << Escape(r.label) << "</text>\n";
  }
  // Panel 2: latency, log10 scale.
  const int top2 = top + panel + 110;
  double lo = 1e9, hi = 0;
  for (const ChartRow& r : rows) {
    for (double v : {r.a.p50, r.a.p99, r.a.p999, r.b.p50, r.b.p99, r.b.p999}) {
      if (v > 0) lo = std::min(lo, v), hi = std::max(hi, v);
    }
  }
  if (hi <= 0) lo = 1, hi = 10;
  double l0 = std::floor(std::log10(lo)), l1 = std::ceil(std::log10(hi));
  if (l1 <= l0) l1 = l0 + 1;
  auto y2 = [&](double v) {
    double l = std::log10(std::max(v, std::pow(10.0, l0)));
    return top2 + panel - (l - l0) / (l1 - l0) * panel;
  };
  s << "<text x='" << left << "' y='" << top2 - 8
    << "'>Latency per operation or call, µs (log): A p50/p99/p99.9 blue, B p50/p99/p99.9 "
       "orange</text>\n";
  for (double l = l0; l <= l1; l += 1) {
    double v = std::pow(10.0, l);
    s << "<line x1='" << left << "' x2='" << w - right << "' y1='" << y2(v) << "' y2='" << y2(v)
      << "' stroke='#ddd'/><text x='" << left - 6 << "' y='" << y2(v) + 4
      << "' text-anchor='end'>" << Fmt("%g", v) << "</text>\n";
  }
  const char* colors[] = {"#9dc3e6", "#4472c4", "#1f3864", "#f8cbad", "#ed7d31", "#843c0c"};
  for (int i = 0; i < n; ++i) {
    const ChartRow& r = rows[static_cast<size_t>(i)];
    double vals[] = {r.a.p50, r.a.p99, r.a.p999, r.b.p50, r.b.p99, r.b.p999};
    double bw = slot * 0.8 / 6, x0 = left + slot * i + slot * 0.1;
    for (int k = 0; k < 6; ++k) {
      s << "<rect x='" << x0 + bw * k << "' y='" << y2(vals[k]) << "' width='" << bw * 0.9
        << "' height='" << y2(std::pow(10.0, l0)) - y2(vals[k]) << "' fill='" << colors[k]
        << "'/>\n";
    }
    s << "<text transform='translate(" << left + slot * i + slot / 2 << "," << top2 + panel + 12
      << ") rotate(25)' font-size='10'>" << Escape(r.label) << "</text>\n";
  }
  s << "</svg>\n";
  std::ofstream f(path);
  if (!f) throw BenchError("cannot write " + path);
  f << s.str();
}

}  // namespace

std::string WriteChart(const std::string& path, const std::vector<WorkloadResult>& results) {
  std::vector<ChartRow> rows = ChartRows(results);
  const bool png = path.size() > 4 && path.substr(path.size() - 4) == ".png";
  if (Gnuplot(path, rows)) return "gnuplot";
  if (png) throw BenchError("a PNG chart needs gnuplot; ask for an .svg chart instead");
  HandSvg(path, rows);
  return "built-in SVG (gnuplot not found or failed)";
}

}  // namespace bench
