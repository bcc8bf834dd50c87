// Per-side instruction counts under `valgrind --tool=callgrind` (see
// bench/README.md, "Instruction counts"). Outside valgrind these are no-ops
// costing a few instructions, called once per timed run (never per op).
//
// RunPaired names each side ("put_batch A round 0"); TimeOps and the
// threaded runners zero callgrind's counters when the timed loop starts and
// dump them when it ends, so each dump file holds exactly one side's timed
// work, and its trigger line says which side and how many units it did.
#pragma once

#include <string>

namespace bench {

void CallgrindSide(const std::string& label);  // the next timed run's name
void CallgrindBegin();                         // timed loop starts: zero
void CallgrindEnd(double units);               // timed loop ends: dump

}  // namespace bench
