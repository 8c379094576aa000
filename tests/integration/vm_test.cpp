// /vm/* through the real daemon on libvirt's in-process test:///default driver.
#include "integration/vm_suite.hpp"

namespace kvmhub::test {
namespace {

struct InProcessTestDriver {
    static std::string url() { return "test:///default"; }
    static std::map<std::string, std::string> env() { return {}; }
};

INSTANTIATE_TYPED_TEST_SUITE_P(TestDefault, Vm, InProcessTestDriver);

}  // namespace
}  // namespace kvmhub::test
