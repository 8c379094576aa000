// Gold images as local files that kvmhubd can upload into a host's pool. An http(s) gold
// (absolute, or a path on GOLD_SRV) is fetched once into <data_dir>/gold-cache, resuming an
// interrupted download with Range requests and following redirects, and is named by the
// sha256 of its content; a file:// gold under gold_dir is used in place (hashed once per
// size and modification time). Concurrent requests for one gold wait for one fetch.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace kvmhub::disks {

// One progress line for the client; returns false once the client has gone away.
using Progress = std::function<bool(std::string_view line)>;

struct LocalGold {
    std::string path;
    std::string sha256;  // hex, of the file's content
    std::string format;  // qcow2 or raw, from the file's first bytes
    std::uint64_t bytes = 0;
    std::uint64_t virtual_size = 0;  // what the guest sees: the qcow2 header's size, or `bytes`
};

// The format and virtual size from a file's header (the qcow2 magic "QFI\xfb"; anything else
// is raw). Errors name `path`.
Result<LocalGold> probe_image(const std::string& path);
// Hex sha256 of a file's content; `progress` may stop it (Conflict).
Result<std::string> sha256_file(const std::string& path, const Progress& progress);

class GoldCache {
public:
    // `cache_dir` is created on first use; `gold_dir` bounds file:// URIs; `gold_srv` is the
    // host[:port] server-relative URIs ("/gold/x.qcow2") are fetched from.
    GoldCache(std::string cache_dir, std::string gold_dir, std::string gold_srv);

    // The local file of a gold's catalog `uri`, fetched when needed.
    Result<LocalGold> get(const std::string& uri, const Progress& progress);

    // How many downloads were started (tests: a second get() of a URI must not download).
    std::uint64_t downloads() const;

private:
    Result<LocalGold> local(const std::string& uri, const Progress& progress);
    Result<LocalGold> remote(const std::string& url, const Progress& progress);
    Status download(const std::string& url, const std::string& partial, const Progress& progress);

    std::string cache_dir_;
    std::string gold_dir_;
    std::string gold_srv_;

    mutable std::mutex mutex_;
    std::map<std::string, std::shared_ptr<std::timed_mutex>> busy_;  // one fetch or hash per key
    std::map<std::string, LocalGold> hashed_;                        // local files by "path|size|mtime"
    std::uint64_t downloads_ = 0;
};

}  // namespace kvmhub::disks
