// /vm/* through the real daemon on a libvirt test driver node served by a real libvirtd
// (test+unix://): the same suite as tests/integration/vm_test.cpp, over libvirt's RPC.
#include "integration/vm_suite.hpp"
#include "support/temp_dir.hpp"

#include <fstream>

namespace kvmhub::test {
namespace {

struct RemoteTestDriver {
    // A node description of our own: libvirtd reads it when kvmhubd connects.
    static std::string url() {
        static TempDir dir;
        const std::string path = dir.file("node.xml");
        std::ofstream(path) << "<node/>\n";
        return "test+unix://" + path;
    }
    // A node file is a test-only host URL.
    static std::map<std::string, std::string> env() { return {{"KVMHUB_LIBVIRT_ALLOW_TEST_FILES", "true"}}; }
};

INSTANTIATE_TYPED_TEST_SUITE_P(TestUnix, Vm, RemoteTestDriver);

}  // namespace
}  // namespace kvmhub::test
