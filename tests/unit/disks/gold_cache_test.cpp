// The gold cache against a real HTTP server on loopback and real files: fetched once, named by
// content hash, resumed with Range, format and virtual size read from the header.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "disks/gold_cache.hpp"
#include "support/static_server.hpp"
#include "support/temp_dir.hpp"

namespace kvmhub::disks {
namespace {

namespace fs = std::filesystem;
using test::StaticServer;
using test::TempDir;

// A qcow2 header (magic, version 3) saying the virtual size is `size`, padded with `tail`.
std::string qcow2_header(std::uint64_t size, const std::string& tail) {
    std::string h = {'Q', 'F', 'I', '\xfb', 0, 0, 0, 3};
    h.resize(24, '\0');
    for (int shift = 56; shift >= 0; shift -= 8) h += static_cast<char>((size >> shift) & 0xff);
    return h + tail;
}

void write(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}

Progress quiet() {
    return [](std::string_view) { return true; };
}

TEST(GoldImage, Qcow2HeaderGivesFormatAndVirtualSize) {
    TempDir dir;
    write(dir.file("a.qcow2"), qcow2_header(20ull << 30, std::string(100, 'q')));
    auto gold = probe_image(dir.file("a.qcow2"));
    ASSERT_TRUE(gold) << gold.error().desc;
    EXPECT_EQ(gold->format, "qcow2");
    EXPECT_EQ(gold->virtual_size, 20ull << 30);
    EXPECT_EQ(gold->bytes, 132u);
}

TEST(GoldImage, AnythingElseIsRawOfItsOwnSize) {
    TempDir dir;
    write(dir.file("a.img"), std::string(4096, 'r'));
    auto gold = probe_image(dir.file("a.img"));
    ASSERT_TRUE(gold);
    EXPECT_EQ(gold->format, "raw");
    EXPECT_EQ(gold->virtual_size, 4096u);
}

TEST(GoldImage, Sha256OfTheContent) {
    TempDir dir;
    write(dir.file("abc"), "abc");
    auto sum = sha256_file(dir.file("abc"), quiet());
    ASSERT_TRUE(sum);
    EXPECT_EQ(*sum, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(GoldCache, FetchesAnHttpGoldOnceAndNamesItByItsHash) {
    TempDir dir;
    StaticServer server;
    const std::string content = qcow2_header(1 << 30, std::string(5000, 'g'));
    server.add_body("/gold/g.qcow2", content);
    GoldCache cache(dir.file("cache"), dir.file("gold"), server.host_port());

    auto first = cache.get("/gold/g.qcow2", quiet());  // simplekvm's form: a path on GOLD_SRV
    ASSERT_TRUE(first) << first.error().desc;
    EXPECT_EQ(first->format, "qcow2");
    EXPECT_EQ(first->virtual_size, 1u << 30);
    EXPECT_EQ(first->bytes, content.size());
    EXPECT_EQ(fs::path(first->path).filename(), first->sha256);
    std::ifstream in(first->path, std::ios::binary);
    EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), content);

    auto again = cache.get(server.url("/gold/g.qcow2"), quiet());
    ASSERT_TRUE(again);
    auto third = cache.get("/gold/g.qcow2", quiet());
    ASSERT_TRUE(third);
    EXPECT_EQ(third->path, first->path);
    EXPECT_EQ(server.hits("/gold/g.qcow2"), 1) << "a cached gold is not fetched again";
    EXPECT_EQ(cache.downloads(), 1u);
}

TEST(GoldCache, ResumesAPartialDownloadWithARangeRequest) {
    TempDir dir;
    StaticServer server;
    const std::string content(300000, 'z');
    server.add_body("/g.raw", content);
    GoldCache cache(dir.file("cache"), dir.file("gold"), server.host_port());
    // Fetch once to learn the cache layout, then put back what an interrupted download leaves
    // (the first 1000 bytes in partial/, no index entry) and fetch again.
    auto whole = cache.get(server.url("/g.raw"), quiet());
    ASSERT_TRUE(whole) << whole.error().desc;
    fs::path by_url;
    for (const auto& e : fs::directory_iterator(dir.file("cache") + "/by-url")) by_url = e.path();
    ASSERT_FALSE(by_url.empty());
    const fs::path partial = fs::path(dir.file("cache")) / "partial" / by_url.filename();
    write(partial.string(), content.substr(0, 1000));
    fs::remove(by_url);
    fs::remove(whole->path);

    auto resumed = cache.get(server.url("/g.raw"), quiet());
    ASSERT_TRUE(resumed) << resumed.error().desc;
    EXPECT_EQ(server.last_range("/g.raw"), "bytes=1000-");
    EXPECT_EQ(resumed->sha256, whole->sha256);
    EXPECT_EQ(resumed->bytes, content.size());
}

TEST(GoldCache, AnHttpErrorNamesTheUrlAndCachesNothing) {
    TempDir dir;
    StaticServer server;
    server.add("/missing.qcow2", 404, 0);
    GoldCache cache(dir.file("cache"), dir.file("gold"), server.host_port());
    auto r = cache.get(server.url("/missing.qcow2"), quiet());
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().desc.find("404"), std::string::npos) << r.error().desc;
    EXPECT_NE(r.error().desc.find("/missing.qcow2"), std::string::npos) << r.error().desc;
}

TEST(GoldCache, ALocalGoldIsUsedInPlaceOnlyInsideTheGoldFolder) {
    TempDir dir;
    fs::create_directories(dir.file("gold"));
    write(dir.file("gold") + "/l.img", std::string(8192, 'l'));
    write(dir.file("outside.img"), "x");
    GoldCache cache(dir.file("cache"), dir.file("gold"), "127.0.0.1:1");
    auto gold = cache.get("file://" + dir.file("gold") + "/l.img", quiet());
    ASSERT_TRUE(gold) << gold.error().desc;
    EXPECT_EQ(gold->path, fs::weakly_canonical(dir.file("gold") + "/l.img").string());
    EXPECT_EQ(gold->format, "raw");
    EXPECT_EQ(gold->sha256.size(), 64u);
    auto outside = cache.get("file://" + dir.file("gold") + "/../outside.img", quiet());
    ASSERT_FALSE(outside);
    EXPECT_EQ(outside.error().code, Errc::BadInput);
}

}  // namespace
}  // namespace kvmhub::disks
