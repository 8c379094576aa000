#!/usr/bin/env bash
# The skip policy of support/skip.hpp, shown under ctest itself: the policy probe's suites are
# registered in a throwaway ctest project with the skip expression gtest_discover_tests gives
# the real tests ("[  SKIPPED ]"), and ctest must report
#   a suite whose SetUpTestSuite failed   -> Failed (gtest calls its tests skipped)
#   a bare GTEST_SKIP                     -> Failed
#   an allowed KVMHUB_SKIP                -> Skipped, listed by tests/skips.sh with its reason
#   a passing test                        -> Passed
# and exit non-zero for the run as a whole. Then, in the real build (BUILD_DIR), every gtest test
# must have that skip expression and no other, so the probe's project is what the real run does.
#   skip_policy_test.sh PROBE_BINARY SKIP_REGEX BUILD_DIR
# Last line: "N passed, M failed".
set -uo pipefail

probe=${1:?usage: skip_policy_test.sh PROBE SKIP_REGEX}
regex=${2:?usage: skip_policy_test.sh PROBE SKIP_REGEX BUILD_DIR}
build=${3:?usage: skip_policy_test.sh PROBE SKIP_REGEX BUILD_DIR}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kvmhub-skip-policy.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

passed=0
failed=0
check() { # name, then a command that must succeed
  local name=$1
  shift
  if "$@"; then
    echo "PASS: $name"
    passed=$((passed + 1))
  else
    echo "FAIL: $name"
    failed=$((failed + 1))
  fi
}

{
  for suite in SetupFails BareSkip AllowedSkip Passes; do
    echo "add_test(probe.$suite \"$probe\" \"--gtest_filter=$suite.*\")"
    echo "set_tests_properties(probe.$suite PROPERTIES SKIP_REGULAR_EXPRESSION \"${regex//\\/\\\\}\")"
  done
} >"$tmp/CTestTestfile.cmake"

ctest --test-dir "$tmp" >"$tmp/ctest.out" 2>&1
rc=$?
cat "$tmp/ctest.out"
"$here/../skips.sh" "$tmp" >"$tmp/skips.out"
cat "$tmp/skips.out"

verdict() { grep -E "Test +#[0-9]+: probe\.$1 " "$tmp/ctest.out" | grep -q -- "$2"; }
check "the run fails" test "$rc" -ne 0
check "a failed SetUpTestSuite is a failure, not a skip" verdict SetupFails '\*\*\*Failed'
check "a bare GTEST_SKIP is a failure" verdict BareSkip '\*\*\*Failed'
check "an allowed skip is a skip" verdict AllowedSkip '\*\*\*Skipped'
check "a pass is a pass" verdict Passes ' Passed'
check "skips.sh lists the allowed skip with its reason" \
  grep -q "probe.AllowedSkip: the skip policy probe skips on purpose" "$tmp/skips.out"
check "skips.sh lists nothing else" test "$(grep -c '^  ' "$tmp/skips.out")" -eq 1

# The real test list, from the files gtest_discover_tests wrote (not `ctest --show-only`, which
# would overwrite the LastTest.log of the run this test is part of): each test's properties
# name one skip expression, the one the probe's project uses.
shopt -s nullglob
lists=("$build"/tests/*_tests.cmake)
grep -h '^set_tests_properties' "${lists[@]}" /dev/null >"$tmp/properties"
total=$(grep -c . "$tmp/properties")
skips=$(grep -o 'SKIP_REGULAR_EXPRESSION' "$tmp/properties" | wc -l)
same=$(grep -cF "SKIP_REGULAR_EXPRESSION [==[$regex]==]" "$tmp/properties")
echo "gtest tests: $total, skip expressions: $skips, the policy's: $same"
check "the build's gtest tests are found" test "$total" -gt 100
check "every gtest test of the build skips only on the policy's expression" test "$skips" -eq "$total" -a "$same" -eq "$total"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
