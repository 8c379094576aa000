#!/usr/bin/env bash
# Lists, after a ctest run, every test ctest skipped and every check a passing test skipped,
# each with the reason it printed (support/skip.hpp: "kvmhub-allowed-skip: <reason>"; shell
# tests: "kvmhub-skipped-check: <reason>"). Reads DIR/Testing/Temporary/LastTest.log.
#   tests/skips.sh BUILD_DIR
# Exit status 0 always: the run's verdict is ctest's.
set -euo pipefail

log=${1:?usage: skips.sh BUILD_DIR}/Testing/Temporary/LastTest.log
[ -f "$log" ] || exit 0

awk '
  /^[0-9]+\/[0-9]+ Test: / { name = $0; sub(/^[0-9]+\/[0-9]+ Test: /, "", name); reason = ""; next }
  /^Output:$/ { out = 1; next }
  /^<end of output>$/ { out = 0; next }
  !out && /^Skip regular expression found in output/ { skipped[++ns] = name ": " reason; next }
  !out { next }
  /kvmhub-allowed-skip: / { r = $0; sub(/.*kvmhub-allowed-skip: /, "", r); reason = r; next }
  /kvmhub-skipped-check: / { r = $0; sub(/.*kvmhub-skipped-check: /, "", r); checks[++nc] = name ": " r; next }
  END {
    if (ns == 0 && nc == 0) { print "skips: no test and no check was skipped"; exit }
    if (ns > 0) {
      print "skips: " ns " test(s) skipped, each for an allowed reason:"
      for (i = 1; i <= ns; i++) print "  " skipped[i]
    }
    if (nc > 0) {
      print "skips: " nc " check(s) skipped inside passing tests:"
      for (i = 1; i <= nc; i++) print "  " checks[i]
    }
  }
' "$log"
