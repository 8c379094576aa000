#include "disks/gold_cache.hpp"

#include <sys/stat.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include <curl/curl.h>
#include <fmt/format.h>
#include <openssl/evp.h>

#include "common/cfree.hpp"
#include "common/log.hpp"

namespace kvmhub::disks {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr std::uint64_t kMiB = 1 << 20;

std::string hex(const unsigned char* data, std::size_t size) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(size * 2);
    for (std::size_t i = 0; i < size; ++i) {
        out += digits[data[i] >> 4];
        out += digits[data[i] & 15];
    }
    return out;
}

std::string sha256_text(std::string_view text) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
    unsigned int len = 0;
    EVP_Digest(text.data(), text.size(), md.data(), &len, EVP_sha256(), nullptr);
    return hex(md.data(), len);
}

Error stopped(std::string_view what) {
    return Error{Errc::Conflict, "progress", fmt::format("{} stopped: the client went away", what)};
}

// Writes `text` to `path` through a temporary file and a rename, so a reader never sees half.
bool write_atomically(const fs::path& path, const std::string& text) {
    fs::path tmp = path;
    tmp += ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << text;
        if (!out) return false;
    }
    std::error_code ec;
    fs::rename(tmp, path, ec);
    return !ec;
}

struct Transfer {
    const Progress* progress;
    std::uint64_t offset = 0;  // bytes on disk before this request (resume)
    std::chrono::steady_clock::time_point last_line{};
    bool client_gone = false;
};

std::size_t write_body(char* data, std::size_t size, std::size_t count, void* user) {
    return std::fwrite(data, size, count, static_cast<std::FILE*>(user)) * size;
}

int on_progress(void* user, curl_off_t total, curl_off_t now, curl_off_t, curl_off_t) {
    auto* t = static_cast<Transfer*>(user);
    auto clock = std::chrono::steady_clock::now();
    if (clock - t->last_line < 2s) return 0;
    t->last_line = clock;
    const auto done = t->offset + static_cast<std::uint64_t>(now);
    const auto all = t->offset + static_cast<std::uint64_t>(total);
    std::string line = total > 0 ? fmt::format("fetching gold: {} of {} MiB", done / kMiB, all / kMiB)
                                 : fmt::format("fetching gold: {} MiB", done / kMiB);
    if (!(*t->progress)(line)) {
        t->client_gone = true;
        return 1;  // aborts the transfer
    }
    return 0;
}

}  // namespace

Result<LocalGold> probe_image(const std::string& path) {
    std::error_code ec;
    auto size = fs::file_size(path, ec);
    if (ec) return fail(Errc::Internal, "gold", fmt::format("cannot read {}: {}", path, ec.message()));
    LocalGold out;
    out.path = path;
    out.bytes = size;
    out.format = "raw";
    out.virtual_size = size;
    std::ifstream in(path, std::ios::binary);
    std::array<unsigned char, 32> header{};
    in.read(reinterpret_cast<char*>(header.data()), header.size());
    if (in.gcount() == static_cast<std::streamsize>(header.size()) && header[0] == 'Q' && header[1] == 'F' &&
        header[2] == 'I' && header[3] == 0xfb) {
        // qcow2 header: the virtual size is the big-endian 64-bit number at offset 24.
        std::uint64_t virt = 0;
        for (int i = 24; i < 32; ++i) virt = (virt << 8) | header[static_cast<std::size_t>(i)];
        out.format = "qcow2";
        out.virtual_size = virt;
    }
    return out;
}

Result<std::string> sha256_file(const std::string& path, const Progress& progress) {
    CPtr<std::FILE, std::fclose> in(std::fopen(path.c_str(), "rb"));
    if (!in) return fail(Errc::Internal, "gold", fmt::format("cannot read {}", path));
    CPtr<EVP_MD_CTX, EVP_MD_CTX_free> ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
        return fail(Errc::Internal, "gold", "cannot start a sha256 digest");
    std::vector<char> buffer(4 * kMiB);
    std::uint64_t done = 0;
    auto last_line = std::chrono::steady_clock::now();
    while (std::size_t got = std::fread(buffer.data(), 1, buffer.size(), in.get())) {
        EVP_DigestUpdate(ctx.get(), buffer.data(), got);
        done += got;
        if (std::chrono::steady_clock::now() - last_line >= 2s) {
            last_line = std::chrono::steady_clock::now();
            if (!progress(fmt::format("hashing gold: {} MiB", done / kMiB))) return tl::unexpected(stopped("hashing"));
        }
    }
    if (std::ferror(in.get())) return fail(Errc::Internal, "gold", fmt::format("cannot read {}", path));
    std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx.get(), md.data(), &len);
    return hex(md.data(), len);
}

GoldCache::GoldCache(std::string cache_dir, std::string gold_dir, std::string gold_srv)
    : cache_dir_(std::move(cache_dir)), gold_dir_(std::move(gold_dir)), gold_srv_(std::move(gold_srv)) {}

std::uint64_t GoldCache::downloads() const {
    std::lock_guard lock(mutex_);
    return downloads_;
}

Result<LocalGold> GoldCache::get(const std::string& uri, const Progress& progress) {
    std::string key = uri;
    std::shared_ptr<std::timed_mutex> busy;
    {
        std::lock_guard lock(mutex_);
        auto& slot = busy_[key];
        if (!slot) slot = std::make_shared<std::timed_mutex>();
        busy = slot;
    }
    // One fetch per gold: later requests wait for it (telling their clients), then find it cached.
    std::unique_lock turn(*busy, std::defer_lock);
    while (!turn.try_lock_for(1s))
        if (!progress("waiting for another request's fetch of this gold")) return tl::unexpected(stopped("waiting"));

    if (uri.rfind("file://", 0) == 0) return local(uri, progress);
    if (uri.rfind("http://", 0) == 0 || uri.rfind("https://", 0) == 0) return remote(uri, progress);
    if (uri.rfind('/', 0) == 0 && uri.find("..") == std::string::npos)
        return remote(fmt::format("http://{}{}", gold_srv_, uri), progress);
    return fail(Errc::BadInput, "gold",
                fmt::format("the gold's uri '{}' is not http(s)://..., file:///... or /path on GOLD_SRV", uri));
}

Result<LocalGold> GoldCache::local(const std::string& uri, const Progress& progress) {
    std::error_code path_ec, root_ec;
    fs::path path = fs::weakly_canonical(fs::path(uri.substr(7)), path_ec);
    fs::path root = fs::weakly_canonical(fs::path(gold_dir_), root_ec);
    auto [root_end, unused] = std::mismatch(root.begin(), root.end(), path.begin(), path.end());
    (void)unused;
    if (path_ec || root_ec || root_end != root.end())
        return fail(Errc::BadInput, "gold", fmt::format("{} is outside the gold folder {}", uri, gold_dir_));
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
        return fail(Errc::NotFound, "gold", fmt::format("{} is not an existing file", uri));
    const std::string key =
        fmt::format("{}|{}|{}.{}", path.string(), st.st_size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    {
        std::lock_guard lock(mutex_);
        if (auto it = hashed_.find(key); it != hashed_.end()) return it->second;
    }
    auto gold = probe_image(path.string());
    if (!gold) return gold;
    auto sum = sha256_file(path.string(), progress);
    if (!sum) return tl::unexpected(sum.error());
    gold->sha256 = *sum;
    std::lock_guard lock(mutex_);
    hashed_[key] = *gold;
    return gold;
}

Result<LocalGold> GoldCache::remote(const std::string& url, const Progress& progress) {
    std::error_code ec;
    const fs::path dir(cache_dir_);
    fs::create_directories(dir / "by-url", ec);
    fs::create_directories(dir / "partial", ec);
    if (ec) return fail(Errc::Internal, "gold", fmt::format("cannot create {}: {}", cache_dir_, ec.message()));
    // by-url/<sha256 of the URL> holds the content hash of what that URL gave last time.
    const std::string url_key = sha256_text(url);
    const fs::path index = dir / "by-url" / url_key;
    if (std::ifstream in(index); in) {
        std::string sum;
        std::getline(in, sum);
        if (sum.size() == 64 && fs::is_regular_file(dir / sum, ec)) {
            auto gold = probe_image((dir / sum).string());
            if (gold) gold->sha256 = sum;
            return gold;
        }
    }
    const fs::path partial = dir / "partial" / url_key;
    if (auto fetched = download(url, partial.string(), progress); !fetched) return tl::unexpected(fetched.error());
    auto sum = sha256_file(partial.string(), progress);
    if (!sum) return tl::unexpected(sum.error());
    fs::rename(partial, dir / *sum, ec);
    if (ec || !write_atomically(index, *sum + "\n"))
        return fail(Errc::Internal, "gold", fmt::format("cannot store the gold in {}", cache_dir_));
    auto gold = probe_image((dir / *sum).string());
    if (gold) gold->sha256 = *sum;
    return gold;
}

Status GoldCache::download(const std::string& url, const std::string& partial, const Progress& progress) {
    static std::once_flag init;
    std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    {
        std::lock_guard lock(mutex_);
        ++downloads_;
    }
    auto log = log::get("disks");
    // Two attempts: the second starts over when the server cannot resume the first's partial file.
    for (int attempt = 0; attempt < 2; ++attempt) {
        std::error_code ec;
        std::uint64_t offset = fs::exists(partial, ec) ? fs::file_size(partial, ec) : 0;
        if (ec) offset = 0;
        CPtr<std::FILE, std::fclose> out(std::fopen(partial.c_str(), offset > 0 ? "ab" : "wb"));
        if (!out) return fail(Errc::Internal, "gold", fmt::format("cannot write {}", partial));
        CPtr<CURL, curl_easy_cleanup> curl(curl_easy_init());
        if (!curl) return fail(Errc::Internal, "gold", "cannot create an HTTP client");
        Transfer transfer{&progress, offset};
        curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
        curl_easy_setopt(curl.get(), CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(curl.get(), CURLOPT_MAXREDIRS, 5L);
        curl_easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(curl.get(), CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(curl.get(), CURLOPT_FAILONERROR, 1L);
        curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT, 30L);
        // A transfer that moves nothing for a minute is dead; a slow one may take as long as it needs.
        curl_easy_setopt(curl.get(), CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(curl.get(), CURLOPT_LOW_SPEED_TIME, 60L);
        curl_easy_setopt(curl.get(), CURLOPT_RESUME_FROM_LARGE, static_cast<curl_off_t>(offset));
        curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, write_body);
        curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, out.get());
        curl_easy_setopt(curl.get(), CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(curl.get(), CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(curl.get(), CURLOPT_XFERINFODATA, &transfer);
        if (offset > 0) progress(fmt::format("resuming the gold download at {} MiB", offset / kMiB));
        CURLcode rc = curl_easy_perform(curl.get());
        long status = 0;
        curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
        bool flushed = std::fflush(out.get()) == 0;
        out.reset();
        if (transfer.client_gone) return tl::unexpected(stopped("the gold download"));
        if (rc == CURLE_OK && flushed) {
            log->info("fetched gold url={} bytes={}", url, fs::file_size(partial, ec));
            return {};
        }
        // The server cannot resume (no ranges, or the file changed size): start over once.
        if (offset > 0 && (rc == CURLE_RANGE_ERROR || status == 416)) {
            log->info("gold download cannot resume, starting over url={} status={}", url, status);
            fs::remove(partial, ec);
            continue;
        }
        return fail(Errc::HostError, "gold",
                    status >= 400 ? fmt::format("GET {} answered HTTP {}", url, status)
                                  : fmt::format("cannot fetch {}: {}", url, curl_easy_strerror(rc)));
    }
    return fail(Errc::HostError, "gold", fmt::format("cannot fetch {}: the download could not be resumed", url));
}

}  // namespace kvmhub::disks
