// The main of every kvmhub test binary: gtest's, plus the skip policy of support/skip.hpp.
// A test that ends skipped without an allowed reason (an unmarked GTEST_SKIP, or a suite whose
// SetUpTestSuite failed, which gtest reports as skips) makes the binary exit 1, and its name
// is printed with what went wrong.
#include <iostream>
#include <string>
#include <vector>

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

class SkipPolicy : public ::testing::EmptyTestEventListener {
public:
    void OnTestEnd(const ::testing::TestInfo& info) override {
        const auto* result = info.result();
        if (!result->Skipped()) return;
        for (int i = 0; i < result->total_part_count(); ++i) {
            const auto& part = result->GetTestPartResult(i);
            if (part.skipped() && allowed(part.message())) return;
        }
        refused_.push_back(std::string(info.test_suite_name()) + "." + info.name());
    }
    void OnTestProgramEnd(const ::testing::UnitTest&) override {
        for (const auto& name : refused_) {
            std::cout << "kvmhub test policy: " << name
                      << " was skipped without an allowed reason (support/skip.hpp): a failed "
                         "SetUpTestSuite or a bare GTEST_SKIP; that is a failure\n";
        }
    }
    bool failed() const { return !refused_.empty(); }

private:
    std::vector<std::string> refused_;
};

}  // namespace

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    auto* policy = new SkipPolicy;  // owned by gtest's listener list
    ::testing::UnitTest::GetInstance()->listeners().Append(policy);
    int rc = RUN_ALL_TESTS();
    return rc != 0 || policy->failed() ? 1 : 0;
}
