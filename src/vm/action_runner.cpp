// Running an action script: posix_spawn (no code of ours runs between fork and exec, so nothing
// async-signal-unsafe can happen in the child), a pidfd to learn of its exit without SIGCHLD, and
// one poll loop over the output pipe and the pidfd with the deadline as its timeout.
#include "vm/action_runner.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace kvmhub::vm {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kBash = "/bin/bash";
// After the script exits, output its leftovers still write is read this long at most: a process
// that left the group (setsid) may hold the pipe open forever.
constexpr auto kDrainAfterExit = std::chrono::seconds(2);

class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    ~Fd() { reset(); }
    Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    Fd& operator=(Fd&& other) noexcept {
        if (this != &other) {
            reset();
            fd_ = std::exchange(other.fd_, -1);
        }
        return *this;
    }
    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
    void reset() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

private:
    int fd_ = -1;
};

tl::unexpected<Error> sys_error(const ActionSpec& spec, const char* what) {
    return fail(Errc::Internal, "action",
                fmt::format("cannot run action {}: {}: {}", spec.name, what, std::strerror(errno)));
}

bool write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

// The script's private copy: a fresh 0700 directory holding one 0700 file. Nobody else can read it
// (it may embed credentials) or swap it before bash opens it. The directory is also the script's
// working directory, and is removed with whatever the script left in it.
class ScriptFile {
public:
    ~ScriptFile() {
        std::error_code ec;
        if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
    }
    Status create(const ActionSpec& spec) {
        std::error_code ec;
        std::filesystem::path base = std::filesystem::temp_directory_path(ec);
        if (ec) base = "/tmp";
        std::string pattern = (base / "kvmhub-action-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) return sys_error(spec, "mkdtemp");
        dir_ = pattern;
        // $0 names the device, as simplekvm's scripts see it; a name that is not a plain file name
        // (never from the catalog, which checks names) falls back to a fixed one.
        const bool plain =
            !spec.name.empty() && spec.name.find('/') == std::string::npos && spec.name != "." && spec.name != "..";
        path_ = dir_ + "/" + (plain ? spec.name : std::string("script")) + ".action";
        Fd fd(::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0700));
        if (!fd) {
            path_.clear();
            return sys_error(spec, "create the script file");
        }
        if (!write_all(fd.get(), spec.script)) return sys_error(spec, "write the script file");
        return {};
    }
    const std::string& path() const { return path_; }
    const std::string& dir() const { return dir_; }

private:
    std::string dir_;
    std::string path_;
};

// stdin as an in-memory file: nothing on disk, and the script may read it or not, at its pace,
// without a writer thread or a pipe that could fill up.
Result<Fd> input_file(const ActionSpec& spec) {
    Fd fd(::memfd_create("kvmhub-action-input", MFD_CLOEXEC));
    if (!fd) return sys_error(spec, "memfd_create");
    if (!write_all(fd.get(), spec.input)) return sys_error(spec, "write the input");
    if (::lseek(fd.get(), 0, SEEK_SET) != 0) return sys_error(spec, "rewind the input");
    return fd;
}

std::vector<std::string> environment_of(const ActionSpec& spec) {
    std::vector<std::string> env;
    bool has_path = false;
    for (const auto& [name, value] : spec.env) {
        // A name with '=' or a NUL byte anywhere cannot be passed faithfully; leave it out.
        if (name.empty() || name.find('=') != std::string::npos || name.find('\0') != std::string::npos ||
            value.find('\0') != std::string::npos)
            continue;
        has_path = has_path || name == "PATH";
        env.push_back(name + "=" + value);
    }
    if (!has_path) env.push_back("PATH=" + std::string(kActionPath));
    return env;
}

std::string seconds_text(std::chrono::milliseconds d) {
    if (d.count() % 1000 == 0) return fmt::format("{} s", d.count() / 1000);
    return fmt::format("{:.1f} s", static_cast<double>(d.count()) / 1000.0);
}

// Splits output into lines. '\n' ends a line; so does a lone '\r' (progress meters such as
// `qemu-img convert -p` redraw one line with '\r'), but an empty line ended by '\r' is dropped
// and "\r\n" is one line end.
class LineSplitter {
public:
    LineSplitter(const ActionSpec& spec, const LineSink& sink) : spec_(spec), sink_(sink) {}

    // False once the sink refused a line.
    bool feed(std::string_view data) {
        for (char c : data) {
            if (c == '\n') {
                if (after_cr_ && line_.empty()) {
                    after_cr_ = false;
                    continue;
                }
                after_cr_ = false;
                if (!emit()) return false;
            } else if (c == '\r') {
                after_cr_ = true;
                if (!line_.empty() && !emit()) return false;
            } else {
                after_cr_ = false;
                line_.push_back(c);
                if (line_.size() >= spec_.max_line_bytes && !emit()) return false;
            }
        }
        return true;
    }
    bool finish() { return line_.empty() || emit(); }
    const std::deque<std::string>& tail() const { return tail_; }

private:
    bool emit() {
        std::string line = std::move(line_);
        line_.clear();
        if (spec_.tail_lines > 0) {
            if (tail_.size() == spec_.tail_lines) tail_.pop_front();
            std::string kept(line, 0, std::min<std::size_t>(line.size(), 500));
            if (line.size() > 500) kept.append("...");
            tail_.push_back(std::move(kept));
        }
        return sink_(line);
    }

    const ActionSpec& spec_;
    const LineSink& sink_;
    std::string line_;
    bool after_cr_ = false;
    std::deque<std::string> tail_;
};

// Waits until the pidfd says the process exited, or `deadline`.
bool wait_exit(int pidfd, Clock::time_point deadline) {
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        pollfd p{pidfd, POLLIN, 0};
        const int n = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0)));
        if (n > 0) return true;
        if (n == 0) return false;
        if (errno != EINTR) return false;
    }
}

// Ends the whole group: SIGTERM, the leader gets `grace` to exit, then SIGKILL for everyone left
// (children that ignore SIGTERM, or outlive the leader). The leader is reaped only afterwards, so
// its pid, and with it the group id, cannot be reused by another process before the SIGKILL.
void kill_group(pid_t pid, int pidfd, std::chrono::milliseconds grace) {
    ::kill(-pid, SIGTERM);
    wait_exit(pidfd, Clock::now() + grace);
    ::kill(-pid, SIGKILL);
}

int reap(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

}  // namespace

Status run_action(const ActionSpec& spec, const LineSink& sink) {
    ScriptFile script;
    if (auto ok = script.create(spec); !ok) return ok;
    auto input = input_file(spec);
    if (!input) return tl::unexpected(input.error());

    int out_fds[2];
    if (::pipe2(out_fds, O_CLOEXEC) != 0) return sys_error(spec, "pipe2");
    Fd out_read(out_fds[0]);
    Fd out_write(out_fds[1]);

    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_adddup2(&actions, input->get(), STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out_write.get(), STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out_write.get(), STDERR_FILENO);
    // Descriptors kvmhubd opened without O_CLOEXEC (or libraries did) must not leak either.
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    posix_spawn_file_actions_addchdir_np(&actions, script.dir().c_str());
    sigset_t none;
    sigset_t all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);  // ignored signals (SIGPIPE) are inherited otherwise
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    std::vector<std::string> env = environment_of(spec);
    std::vector<char*> envp;
    for (std::string& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    std::string arg0 = "bash", arg1 = "-eu", arg2 = script.path();
    char* argv[] = {arg0.data(), arg1.data(), arg2.data(), nullptr};

    pid_t pid = -1;
    const int spawned = ::posix_spawn(&pid, kBash, &actions, &attr, argv, envp.data());
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (spawned != 0) {
        errno = spawned;
        return sys_error(spec, kBash);
    }
    out_write.reset();  // the pipe ends (EOF) when the script and its children are done with it
    input->reset();

    // Through syscall(): glibc 2.36's <sys/pidfd.h> lacks extern "C" and cannot be linked from C++.
    Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (!pidfd) {
        const int saved = errno;
        ::kill(-pid, SIGKILL);
        reap(pid);
        errno = saved;
        return sys_error(spec, "pidfd_open");
    }

    LineSplitter lines(spec, sink);
    const Clock::time_point deadline = Clock::now() + spec.timeout;
    Clock::time_point drain_deadline = Clock::time_point::max();
    bool exited = false;
    bool cancelled = false;
    bool timed_out = false;
    std::vector<char> buffer(64 << 10);

    while (out_read || !exited) {
        const Clock::time_point now = Clock::now();
        if (!exited && now >= deadline) {
            timed_out = true;
            break;
        }
        if (exited && now >= drain_deadline) break;
        const auto until = exited ? drain_deadline : deadline;
        const auto wait = std::chrono::ceil<std::chrono::milliseconds>(until - now);
        pollfd fds[2];
        nfds_t count = 0;
        if (out_read) fds[count++] = pollfd{out_read.get(), POLLIN, 0};
        const nfds_t pid_index = count;
        if (!exited) fds[count++] = pollfd{pidfd.get(), POLLIN, 0};
        const int ready = ::poll(fds, count, static_cast<int>(std::min<std::int64_t>(wait.count(), 60'000)));
        if (ready < 0) {
            if (errno == EINTR) continue;
            ::kill(-pid, SIGKILL);
            reap(pid);
            return sys_error(spec, "poll");
        }
        if (out_read && (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
            const ssize_t n = ::read(out_read.get(), buffer.data(), buffer.size());
            if (n > 0) {
                if (!lines.feed(std::string_view(buffer.data(), static_cast<std::size_t>(n)))) {
                    cancelled = true;
                    break;
                }
            } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
                out_read.reset();
                if (!lines.finish()) {
                    cancelled = true;
                    break;
                }
            }
        }
        if (!exited && (fds[pid_index].revents & POLLIN) != 0) {
            exited = true;
            // Leftovers of the script (background jobs) go with it; the leader is not reaped yet,
            // so the group id still names only the script's processes.
            ::kill(-pid, SIGKILL);
            drain_deadline = Clock::now() + kDrainAfterExit;
        }
    }

    if (cancelled || timed_out) {
        kill_group(pid, pidfd.get(), spec.kill_grace);
        reap(pid);
        if (cancelled)
            return fail(Errc::Conflict, "action", fmt::format("action {} cancelled: the client went away", spec.name));
        return fail(Errc::HostTimeout, "action",
                    fmt::format("action {} timed out after {}", spec.name, seconds_text(spec.timeout)));
    }
    if (out_read && !lines.finish())
        return fail(Errc::Conflict, "action", fmt::format("action {} cancelled: the client went away", spec.name));

    const int status = reap(pid);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
    const std::string how = WIFEXITED(status) ? fmt::format("exit status {}", WEXITSTATUS(status))
                                              : fmt::format("signal {}", WTERMSIG(status));
    const auto& tail = lines.tail();
    return fail(
        Errc::HostError, "action",
        fmt::format("action {} failed with {}{}{}", spec.name, how, tail.empty() ? "" : ": ", fmt::join(tail, " | ")));
}

}  // namespace kvmhub::vm
