// /gold/<file> and /iso/<file> on the metadata surface: the files of gold_dir and iso_dir for the
// hosts, with ranges (qemu's curl driver and `curl -C -` resume), never a file outside the
// folders, and no worker held while a client downloads.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include <gtest/gtest.h>

#include "support/daemon.hpp"
#include "support/http_client.hpp"
#include "support/raw_socket.hpp"
#include "support/temp_dir.hpp"

namespace kvmhub::test {
namespace {

using namespace std::chrono_literals;

std::string pattern(std::size_t size) {
    std::string bytes(size, '\0');
    for (std::size_t i = 0; i < size; ++i) bytes[i] = static_cast<char>((i * 7919) % 251);
    return bytes;
}

void write_file(const std::string& path, const std::string& bytes) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path, std::ios::binary) << bytes;
}

class ImageFiles : public ::testing::Test {
protected:
    void SetUp() override {
        write_file(dir_.file("gold/debian/bookworm.qcow2"), gold_);
        write_file(dir_.file("iso/tools.iso"), iso_);
        write_file(dir_.file("secret.txt"), "not for guests");
        std::filesystem::create_symlink(dir_.file("secret.txt"), dir_.file("gold/link-out"));
    }
    std::map<std::string, std::string> env() const {
        return {{"KVMHUB_GOLD_DIR", dir_.file("gold")}, {"KVMHUB_ISO_DIR", dir_.file("iso")}};
    }

    TempDir dir_;
    const std::string gold_ = pattern(3 * 1024 * 1024 + 17);
    const std::string iso_ = pattern(70000);
};

TEST_F(ImageFiles, AGoldAndAnIsoDownloadWholeWithTheirLengthAndValidators) {
    Daemon d({.env = env()});
    auto gold = http_get(d.url() + "/gold/debian/bookworm.qcow2");
    ASSERT_EQ(gold.status, 200) << gold.body.substr(0, 200);
    EXPECT_TRUE(gold.body == gold_) << "the bytes of the file, " << gold.body.size() << " of " << gold_.size();
    EXPECT_EQ(gold.header("accept-ranges"), "bytes");
    EXPECT_FALSE(gold.header("etag").empty());
    EXPECT_FALSE(gold.header("last-modified").empty());
    auto iso = http_get(d.url() + "/iso/tools.iso");
    ASSERT_EQ(iso.status, 200);
    EXPECT_TRUE(iso.body == iso_);
    EXPECT_EQ(iso.header("content-type"), "application/x-iso9660-image");
    auto head = http_request("HEAD", d.url() + "/iso/tools.iso");
    EXPECT_EQ(head.status, 200);
    EXPECT_EQ(head.header("content-length"), std::to_string(iso_.size())) << "qemu's curl driver sizes the file so";
    auto same = http_get(d.url() + "/iso/tools.iso", {.headers = {"If-None-Match: " + iso.header("etag")}});
    EXPECT_EQ(same.status, 304);
}

TEST_F(ImageFiles, RangesAreServedAndADownloadResumesWhereItStopped) {
    Daemon d({.env = env()});
    const std::string url = d.url() + "/gold/debian/bookworm.qcow2";
    auto middle = http_get(url, {.headers = {"Range: bytes=1000-1999"}});
    ASSERT_EQ(middle.status, 206);
    EXPECT_TRUE(middle.body == gold_.substr(1000, 1000));
    EXPECT_EQ(middle.header("content-range"), "bytes 1000-1999/" + std::to_string(gold_.size()));
    auto tail = http_get(url, {.headers = {"Range: bytes=-10"}});
    EXPECT_EQ(tail.status, 206);
    EXPECT_TRUE(tail.body == gold_.substr(gold_.size() - 10));
    auto past = http_get(url, {.headers = {"Range: bytes=" + std::to_string(gold_.size()) + "-"}});
    EXPECT_EQ(past.status, 416);
    EXPECT_EQ(past.header("content-range"), "bytes */" + std::to_string(gold_.size()));
    auto stale = http_get(url, {.headers = {"Range: bytes=0-9", "If-Range: \"another-version\""}});
    EXPECT_EQ(stale.status, 200) << "a changed file is sent whole";
    EXPECT_EQ(stale.body.size(), gold_.size());

    // curl -C - with half of the file already on disk.
    const std::string part = dir_.file("part.qcow2");
    write_file(part, gold_.substr(0, 1234567));
    auto resumed = run_command({"curl", "-sS", "-f", "-C", "-", "-o", part, url});
    ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
    std::ifstream in(part, std::ios::binary);
    const std::string whole((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_TRUE(whole == gold_) << whole.size();
}

TEST_F(ImageFiles, NothingOutsideTheFoldersIsServed) {
    Daemon d({.env = env()});
    for (const char* path : {"/gold/link-out", "/gold/%2e%2e/secret.txt", "/gold/.hidden", "/gold/debian",
                             "/gold/debian/", "/gold/nonexistent.qcow2"}) {
        auto r = http_get(d.url() + path);
        EXPECT_EQ(r.status, 404) << path << ": " << r.body;
        EXPECT_EQ(r.body.find("not for guests"), std::string::npos) << path;
    }
    // Sent as they are (curl would resolve the dots itself).
    for (const char* path : {"/gold/../secret.txt", "/iso/../gold/debian/bookworm.qcow2", "/iso/%2e%2e/secret.txt"}) {
        RawSocket socket(d.port());
        socket.send(std::string("GET ") + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        std::string reply;
        socket.read_until_closed(reply, 10s);
        EXPECT_NE(reply.find(" 404 "), std::string::npos) << path << ": " << reply.substr(0, 200);
    }
}

TEST_F(ImageFiles, ClientsThatStopReadingMidDownloadHoldNoWorker) {
    write_file(dir_.file("kvmhub.toml"), "[http]\nworker_threads = 1\n");
    write_file(dir_.file("gold/big.img"), pattern(64 * 1024 * 1024));
    Daemon d({.args = {"--config", dir_.file("kvmhub.toml")}, .env = env()});
    const std::string token = d.login();
    std::vector<std::unique_ptr<RawSocket>> stalled;
    for (int i = 0; i < 4; ++i) {
        auto socket = std::make_unique<RawSocket>(d.port());
        socket->send("GET /gold/big.img HTTP/1.1\r\nHost: x\r\n\r\n");
        ASSERT_NE(socket->read_until("\r\n\r\n", 10s).find("200 OK"), std::string::npos);
        stalled.push_back(std::move(socket));  // never read again: the server's writes block
    }
    std::this_thread::sleep_for(500ms);
    const auto start = std::chrono::steady_clock::now();
    auto conf = http_get(d.url() + "/conf/", {.headers = {"Authorization: Bearer " + token}, .timeout_seconds = 20});
    EXPECT_EQ(conf.status, 200) << conf.body;
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s)
        << "the one worker is free while four downloads wait for their clients";
}

}  // namespace
}  // namespace kvmhub::test
