#include "console/log_follower.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>

namespace kvmhub::console {
namespace {

constexpr std::streamoff kBacklog = 1024 * 1024;  // what a new viewer gets of an old log
constexpr auto kPoll = std::chrono::milliseconds(250);

class FileFollower final : public BytePipe {
public:
    explicit FileFollower(std::string path) : path_(std::move(path)) {}
    ~FileFollower() override {
        close();
        if (thread_.joinable()) thread_.join();
    }

    void start(Sink sink) override {
        sink_ = std::move(sink);
        thread_ = std::thread([this] { run(); });
    }
    bool write(std::string_view) override { return true; }  // read-only: input is dropped
    void close() override {
        std::lock_guard lock(mutex_);
        stop_ = true;
        wake_.notify_all();
    }

private:
    void run() {
        std::ifstream in;
        std::streamoff offset = 0;
        ino_t inode = 0;
        std::string chunk(64 * 1024, '\0');
        for (;;) {
            struct stat st {};
            if (::stat(path_.c_str(), &st) == 0) {
                // Replaced (a new boot with append='off') or truncated: start over.
                if (!in.is_open() || st.st_ino != inode || st.st_size < offset) {
                    in.close();
                    in.clear();
                    in.open(path_, std::ios::binary);
                    inode = st.st_ino;
                    offset = st.st_size > kBacklog ? st.st_size - kBacklog : 0;
                }
                if (in.is_open() && st.st_size > offset) {
                    in.clear();
                    in.seekg(offset);
                    while (in) {
                        in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
                        const auto n = in.gcount();
                        if (n <= 0) break;
                        offset += n;
                        if (stopped()) return;
                        sink_.data(std::string_view(chunk.data(), static_cast<std::size_t>(n)));
                    }
                }
            }
            std::unique_lock lock(mutex_);
            if (wake_.wait_for(lock, kPoll, [this] { return stop_; })) return;
        }
    }

    bool stopped() {
        std::lock_guard lock(mutex_);
        return stop_;
    }

    std::string path_;
    Sink sink_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stop_ = false;
    std::thread thread_;
};

}  // namespace

Result<std::shared_ptr<BytePipe>> follow_file(const std::string& path) {
    std::ifstream probe(path, std::ios::binary);
    if (!probe) {
        int err = errno;
        return fail(err == ENOENT ? Errc::NotFound : Errc::HostError, "log",
                    "cannot read the serial log " + path + ": " + std::strerror(err));
    }
    return std::shared_ptr<BytePipe>(std::make_shared<FileFollower>(path));
}

}  // namespace kvmhub::console
