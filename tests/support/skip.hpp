// The only ways a kvmhub test may skip. A skip is allowed only for a reason listed here; the
// test main (tests/main/test_main.cpp) turns every other skip into a failure (and keeps it from
// printing as "[  SKIPPED ]", which ctest would count as a skip), so a suite whose
// SetUpTestSuite failed (gtest then marks its tests skipped) fails the run instead of hiding.
// An allowed skip prints kSkipMarker and its reason; `make test` lists each skip with its reason
// at the end (tests/skips.sh).
#pragma once

#include <string_view>

#include <gtest/gtest.h>

namespace kvmhub::test {

inline constexpr std::string_view kSkipMarker = "kvmhub-allowed-skip: ";

enum class SkipReason {
    // Restarting or signalling a libvirtd that someone else runs is not the tests' to do.
    ForeignLibvirtd,
    // Only the policy probe (tests/main/policy_probe.cpp) uses this one.
    PolicyProbe,
};

// The text after kSkipMarker for `reason`.
std::string_view skip_text(SkipReason reason);

}  // namespace kvmhub::test

// GTEST_SKIP() with an allowed reason, marked so that ctest and tests/skips.sh see it.
#define KVMHUB_SKIP(reason) \
    GTEST_SKIP() << ::kvmhub::test::kSkipMarker << ::kvmhub::test::skip_text(::kvmhub::test::SkipReason::reason)
