// The cidata ISO read back by the tools a guest's view depends on: isoinfo (genisoimage) walks the ISO 9660,
// Joliet and Rock Ridge trees, blkid is how cloud-init finds the seed by its label. Nothing gets mounted.
#include "cloudinit/iso.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/daemon.hpp"
#include "support/temp_dir.hpp"

namespace kvmhub::cloudinit {
namespace {

using test::run_command;

const std::map<std::string, std::string> kSeed = {
    {"meta-data", "instance-id: 8c6a1e3c-1f5b-4b8e-9d3a-2f4c5d6e7f80\nlocal-hostname: web-01\n"},
    {"user-data", "#cloud-config\nusers:\n  - name: admin\n    ssh_authorized_keys:\n      - ssh-ed25519 AAAA admin\n"},
    {"network-config", "version: 2\nethernets:\n  eth0:\n    addresses: [10.0.0.21/24]\n    gateway4: 10.0.0.1\n"},
};

// blkid lives in /usr/sbin, which a non-root PATH may lack.
std::string tool(const std::string& name) {
    for (const char* dir : {"/usr/sbin", "/sbin"}) {
        const std::string path = std::string(dir) + "/" + name;
        if (std::filesystem::exists(path)) return path;
    }
    return name;
}

class CidataIso : public ::testing::Test {
protected:
    // Builds the image and writes it to a file for the tools.
    std::string write(const std::map<std::string, std::string>& files, const std::string& name = "cidata.iso") {
        auto iso = build_cidata_iso(files);
        EXPECT_TRUE(iso) << (iso ? "" : iso.error().desc);
        if (!iso) return {};
        const std::string path = dir_.file(name);
        std::ofstream(path, std::ios::binary) << *iso;
        return path;
    }

    // A file's content as isoinfo reads it from one tree ("-J" Joliet, "-R" Rock Ridge, "" plain ISO 9660).
    static std::string extract(const std::string& iso, const std::string& tree, const std::string& name) {
        std::vector<std::string> argv{"isoinfo"};
        if (!tree.empty()) argv.push_back(tree);
        for (const std::string& arg : {std::string("-x"), "/" + name, std::string("-i"), iso}) argv.push_back(arg);
        auto result = run_command(argv);
        EXPECT_EQ(result.exit_code, 0) << "isoinfo (genisoimage, scripts/deps.sh): " << result.output;
        return result.output;
    }

    test::TempDir dir_;
};

TEST_F(CidataIso, IsoinfoSeesVolumeIdJolietAndRockRidge) {
    const std::string iso = write(kSeed);
    auto info = run_command({"isoinfo", "-d", "-i", iso});
    ASSERT_EQ(info.exit_code, 0) << "isoinfo (genisoimage, scripts/deps.sh): " << info.output;
    EXPECT_NE(info.output.find("Volume id: cidata\n"), std::string::npos) << info.output;
    EXPECT_NE(info.output.find("Joliet"), std::string::npos) << info.output;
    EXPECT_NE(info.output.find("Rock Ridge"), std::string::npos) << info.output;
}

TEST_F(CidataIso, EveryTreeGivesBackEveryFile) {
    const std::string iso = write(kSeed);
    for (const auto& [name, content] : kSeed) {
        EXPECT_EQ(extract(iso, "-J", name), content) << name << " via Joliet";
        EXPECT_EQ(extract(iso, "-R", name), content) << name << " via Rock Ridge";
        // The plain ISO 9660 names are untranslated: "meta-data", not "META_DAT.;1".
        EXPECT_EQ(extract(iso, "", name), content) << name << " via ISO 9660";
    }
}

TEST_F(CidataIso, TreesListExactlyTheNamesGiven) {
    const std::string iso = write(kSeed);
    const std::string expected = "/meta-data\n/network-config\n/user-data\n";
    for (const std::string tree : {"-J", "-R", ""}) {
        std::vector<std::string> argv{"isoinfo", "-f", "-i", iso};
        if (!tree.empty()) argv.insert(argv.begin() + 1, tree);
        auto listing = run_command(argv);
        ASSERT_EQ(listing.exit_code, 0) << listing.output;
        EXPECT_EQ(listing.output, expected) << "tree '" << tree << "'";
    }
}

TEST_F(CidataIso, BlkidFindsTheCidataLabel) {
    const std::string iso = write(kSeed);
    auto probe = run_command({tool("blkid"), "-p", "-o", "export", iso});
    ASSERT_EQ(probe.exit_code, 0) << probe.output;
    EXPECT_NE(probe.output.find("\nLABEL=cidata\n"), std::string::npos) << probe.output;
    EXPECT_NE(probe.output.find("\nTYPE=iso9660\n"), std::string::npos) << probe.output;
}

// Sets TZ for the lifetime of the object; the previous value comes back after.
class ScopedTimeZone {
public:
    explicit ScopedTimeZone(const char* zone) {
        if (const char* old = std::getenv("TZ")) old_ = old;
        setenv("TZ", zone, 1);
        tzset();
    }
    ~ScopedTimeZone() {
        if (old_) {
            setenv("TZ", old_->c_str(), 1);
        } else {
            unsetenv("TZ");
        }
        tzset();
    }
    ScopedTimeZone(const ScopedTimeZone&) = delete;
    ScopedTimeZone& operator=(const ScopedTimeZone&) = delete;

private:
    std::optional<std::string> old_;
};

TEST_F(CidataIso, SameFilesGiveSameBytesAtAnotherTimeAndTimeZone) {
    auto first = build_cidata_iso(kSeed);
    ASSERT_TRUE(first) << first.error().desc;
    // Into the next second and 5:30 hours east: a timestamp that slipped through would change the bytes.
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    ScopedTimeZone zone("IST-5:30");
    auto second = build_cidata_iso(kSeed);
    ASSERT_TRUE(second) << second.error().desc;
    EXPECT_EQ(first->size() % 2048, 0u);
    EXPECT_TRUE(*first == *second) << "the images differ";
}

TEST_F(CidataIso, DifferentContentGivesDifferentBytes) {
    auto base = build_cidata_iso(kSeed);
    ASSERT_TRUE(base) << base.error().desc;
    auto changed_files = kSeed;
    changed_files["meta-data"].back() = '2';  // same size, one byte apart
    auto changed = build_cidata_iso(changed_files);
    ASSERT_TRUE(changed) << changed.error().desc;
    EXPECT_FALSE(*base == *changed);
    auto renamed_files = kSeed;
    renamed_files.erase("network-config");
    renamed_files["network-confiG"] = kSeed.at("network-config");
    auto renamed = build_cidata_iso(renamed_files);
    ASSERT_TRUE(renamed) << renamed.error().desc;
    EXPECT_FALSE(*base == *renamed);
}

TEST_F(CidataIso, ConcurrentBuildsAgree) {
    auto expected = build_cidata_iso(kSeed);
    ASSERT_TRUE(expected) << expected.error().desc;
    std::vector<std::future<Result<std::string>>> builds;
    for (int i = 0; i < 8; ++i)
        builds.push_back(std::async(std::launch::async, [] { return build_cidata_iso(kSeed); }));
    for (auto& build : builds) {
        auto iso = build.get();
        ASSERT_TRUE(iso) << iso.error().desc;
        EXPECT_TRUE(*iso == *expected);
    }
}

TEST_F(CidataIso, BadNamesAreRejectedByName) {
    const std::vector<std::string> bad = {"../x", "",   "a/b",       "/meta-data",  std::string(65, 'a'),
                                          ".",    "..", "user data", "meta-data\n", std::string("a\0b", 3)};
    for (const std::string& name : bad) {
        auto files = kSeed;
        files[name] = "x";
        auto iso = build_cidata_iso(files);
        ASSERT_FALSE(iso) << "'" << name << "' was accepted";
        EXPECT_EQ(iso.error().code, Errc::BadInput) << name;
        EXPECT_EQ(iso.error().where, "files") << name;
        EXPECT_NE(iso.error().desc.find("'" + name + "'"), std::string::npos) << iso.error().desc;
    }
}

TEST_F(CidataIso, LongestNameWorks) {
    const std::string name(64, 'n');
    const std::string iso = write({{name, "sixty-four"}});
    EXPECT_EQ(extract(iso, "-J", name), "sixty-four");
    EXPECT_EQ(extract(iso, "-R", name), "sixty-four");
}

TEST_F(CidataIso, EmptyAndOneMebibyteFilesWork) {
    std::string big(1 << 20, '\0');
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + (i * 7919 % 26));
    const std::string iso = write({{"empty", ""}, {"big", big}, {"meta-data", kSeed.at("meta-data")}});
    EXPECT_GT(std::filesystem::file_size(iso), big.size());
    for (const std::string tree : {"-J", "-R"}) {
        EXPECT_EQ(extract(iso, tree, "empty"), "") << tree;
        EXPECT_TRUE(extract(iso, tree, "big") == big) << tree;
        EXPECT_EQ(extract(iso, tree, "meta-data"), kSeed.at("meta-data")) << tree;
    }
}

TEST_F(CidataIso, NoFilesGiveAnEmptyVolume) {
    const std::string iso = write({});
    auto listing = run_command({"isoinfo", "-R", "-f", "-i", iso});
    ASSERT_EQ(listing.exit_code, 0) << listing.output;
    EXPECT_EQ(listing.output, "");
    auto probe = run_command({tool("blkid"), "-p", "-o", "export", iso});
    EXPECT_NE(probe.output.find("\nLABEL=cidata\n"), std::string::npos) << probe.output;
}

}  // namespace
}  // namespace kvmhub::cloudinit
