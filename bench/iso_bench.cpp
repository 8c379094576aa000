// cidata ISO build time: a typical NoCloud seed (about 1 KB meta-data, 2 KB user-data, 300 B network-config) into
// an ISO 9660 image in memory, as the daemon does when it gives a VM its seed CD-ROM.
#include <map>
#include <string>

#include <benchmark/benchmark.h>

#include "cloudinit/iso.hpp"

namespace {

// `text` repeated up to `size` bytes, cut at a line end.
std::string lines(const std::string& text, std::size_t size) {
    std::string out;
    while (out.size() + text.size() <= size) out += text;
    return out;
}

std::map<std::string, std::string> seed() {
    const std::string key =
        "      - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n";
    const std::string note = "# owner: team-a, tier: web, created by admin on 2024-05-01T10:00:00Z\n";
    std::map<std::string, std::string> files;
    files["meta-data"] =
        "instance-id: 8c6a1e3c-1f5b-4b8e-9d3a-2f4c5d6e7f80\nlocal-hostname: web-01\n" + lines(note, 900);
    files["user-data"] = "#cloud-config\nusers:\n  - name: admin\n    ssh_authorized_keys:\n" + lines(key, 1900);
    files["network-config"] =
        "version: 2\nethernets:\n  eth0:\n    match:\n      macaddress: '52:54:00:12:34:56'\n"
        "    addresses: [10.0.0.21/24]\n    gateway4: 10.0.0.1\n"
        "    nameservers:\n      addresses: [10.0.0.2, 10.0.0.3]\n      search: [example.com]\n";
    return files;
}

void BM_CidataIso(benchmark::State& state) {
    const auto files = seed();
    std::size_t bytes = 0;
    for (auto _ : state) {
        auto iso = kvmhub::cloudinit::build_cidata_iso(files);
        if (!iso) {
            state.SkipWithError(iso.error().desc.c_str());
            return;
        }
        bytes += iso->size();
        benchmark::DoNotOptimize(iso);
    }
    state.SetItemsProcessed(state.iterations());
    state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}
// The image comes from a writer thread: wall time is the measure (the CPU time is the calling thread's alone).
BENCHMARK(BM_CidataIso)->UseRealTime();

}  // namespace
