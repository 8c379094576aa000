// Not part of any suite: tests/main/skip_policy_test.sh runs it under ctest to show that the
// skip policy holds. Each suite is one way a test can end:
//   SetupFails   its SetUpTestSuite cannot reach a libvirt URI (gtest marks the tests skipped)
//   BareSkip     GTEST_SKIP() without an allowed reason
//   AllowedSkip  KVMHUB_SKIP with an allowed reason (the only skip ctest may count as one)
//   Passes       a plain pass
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "support/skip.hpp"

namespace {

class SetupFails : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        // A throwaway fixture on a libvirt URI nobody serves: the socket does not exist.
        const std::string cmd =
            "timeout 20 virsh -q -c 'test+unix:///default?socket=/nonexistent/kvmhub-probe.sock' version "
            ">/dev/null 2>&1";
        ASSERT_EQ(std::system(cmd.c_str()), 0) << "libvirt at the unreachable URI did not answer (on purpose)";
    }
};

TEST_F(SetupFails, NeverRuns) {}

TEST(BareSkip, Skips) {
    GTEST_SKIP() << "no reason from support/skip.hpp";
}

TEST(AllowedSkip, Skips) {
    KVMHUB_SKIP(PolicyProbe);
}

TEST(Passes, Passes) {
    SUCCEED();
}

}  // namespace
