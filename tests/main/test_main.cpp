// The main of every kvmhub test binary: gtest's, plus the skip policy of support/skip.hpp.
// A test that ends skipped without an allowed reason (a bare GTEST_SKIP, or a suite whose
// SetUpTestSuite failed, which gtest reports as skips) is a failure: the binary exits 1, and
// gtest's printer is kept from printing it as "[  SKIPPED ]", the text ctest's skip expression
// (from gtest_discover_tests) looks for. So ctest reports such a test as failed, not skipped.
#include <iostream>
#include <memory>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "support/skip.hpp"

namespace {

using kvmhub::test::kSkipMarker;

bool allowed(const std::string& message) {
    auto at = message.find(kSkipMarker);
    if (at == std::string::npos) return false;
    const std::string reason = message.substr(at + kSkipMarker.size());
    for (auto r : {kvmhub::test::SkipReason::ForeignLibvirtd, kvmhub::test::SkipReason::PolicyProbe}) {
        if (reason == kvmhub::test::skip_text(r)) return true;
    }
    return false;
}

// A skip the policy refuses.
bool refused_skip(const ::testing::TestResult& result) {
    if (!result.Skipped()) return false;
    for (int i = 0; i < result.total_part_count(); ++i) {
        const auto& part = result.GetTestPartResult(i);
        if (part.skipped() && allowed(part.message())) return false;
    }
    return true;
}

// gtest's own printer, except for refused skips: those print as failures.
class PolicyPrinter : public ::testing::TestEventListener {
public:
    explicit PolicyPrinter(::testing::TestEventListener* inner) : inner_(inner) {}

    void OnTestProgramStart(const ::testing::UnitTest& u) override { inner_->OnTestProgramStart(u); }
    void OnTestIterationStart(const ::testing::UnitTest& u, int i) override { inner_->OnTestIterationStart(u, i); }
    void OnEnvironmentsSetUpStart(const ::testing::UnitTest& u) override { inner_->OnEnvironmentsSetUpStart(u); }
    void OnEnvironmentsSetUpEnd(const ::testing::UnitTest& u) override { inner_->OnEnvironmentsSetUpEnd(u); }
    void OnTestSuiteStart(const ::testing::TestSuite& s) override { inner_->OnTestSuiteStart(s); }
    void OnTestStart(const ::testing::TestInfo& t) override { inner_->OnTestStart(t); }
    void OnTestDisabled(const ::testing::TestInfo& t) override { inner_->OnTestDisabled(t); }
    void OnTestPartResult(const ::testing::TestPartResult& r) override { inner_->OnTestPartResult(r); }
    void OnTestEnd(const ::testing::TestInfo& t) override {
        if (!refused_skip(*t.result())) return inner_->OnTestEnd(t);
        const std::string name = std::string(t.test_suite_name()) + "." + t.name();
        refused_.insert(name);
        std::cout << "[  FAILED  ] " << name
                  << ": skipped without an allowed reason (tests/support/skip.hpp): a failed SetUpTestSuite or a "
                     "bare GTEST_SKIP\n";
    }
    void OnTestSuiteEnd(const ::testing::TestSuite& s) override { inner_->OnTestSuiteEnd(s); }
    void OnEnvironmentsTearDownStart(const ::testing::UnitTest& u) override { inner_->OnEnvironmentsTearDownStart(u); }
    void OnEnvironmentsTearDownEnd(const ::testing::UnitTest& u) override { inner_->OnEnvironmentsTearDownEnd(u); }
    void OnTestIterationEnd(const ::testing::UnitTest& u, int i) override {
        // gtest's summary would list the refused skips as "[  SKIPPED ]".
        if (refused_.empty()) return inner_->OnTestIterationEnd(u, i);
        std::cout << "kvmhub test policy: " << refused_.size() << " test(s) failed by skipping:\n";
        for (const auto& name : refused_) std::cout << "[  FAILED  ] " << name << "\n";
        std::cout << "[  FAILED  ] " << u.failed_test_count() << " test(s) failed besides\n";
    }
    void OnTestProgramEnd(const ::testing::UnitTest& u) override { inner_->OnTestProgramEnd(u); }

    bool failed() const { return !refused_.empty(); }

private:
    std::unique_ptr<::testing::TestEventListener> inner_;
    std::set<std::string> refused_;
};

}  // namespace

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    auto* printer = new PolicyPrinter(listeners.Release(listeners.default_result_printer()));
    listeners.Append(printer);  // gtest owns it from here
    int rc = RUN_ALL_TESTS();
    return rc != 0 || printer->failed() ? 1 : 0;
}
