#include "support/daemon.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <regex>
#include <stdexcept>

#include "support/http_client.hpp"

namespace kvmhub::test {
namespace {

struct Spawned {
    pid_t pid;
    int out_fd;  // read end: stdout + stderr
    int in_fd;   // write end: stdin
};

// Starts argv[0] (looked up in PATH when it has no '/') with stdin, stdout and stderr on pipes.
Spawned spawn(std::vector<std::string> argv_s, const std::map<std::string, std::string>& env) {
    int out[2], in[2];
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(in, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    std::vector<std::string> env_s;
    for (const char* keep : {"PATH", "HOME", "TMPDIR", "LANG"})
        if (const char* v = std::getenv(keep)) env_s.push_back(std::string(keep) + "=" + v);
    for (const auto& [k, v] : env) env_s.push_back(k + "=" + v);
    std::vector<char*> argv, envp;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env_s) envp.push_back(e.data());
    envp.push_back(nullptr);
    pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(out[1], 2);
        execvpe(argv[0], argv.data(), envp.data());
        _exit(127);
    }
    close(out[1]);
    close(in[0]);
    return {pid, out[0], in[1]};
}

int decode_status(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

// waitpid with a deadline (polling: tests have no SIGCHLD plumbing).
int wait_with_timeout(pid_t pid, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int status = 0;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) return decode_status(status);
        if (r < 0) return -1;
        if (std::chrono::steady_clock::now() > deadline) return -2;
        usleep(10 * 1000);
    }
}

}  // namespace

Daemon::Daemon(DaemonOptions options) : admin_password_(options.admin_password) {
    data_dir_ = options.data_dir.empty() ? dir_.file("data") : options.data_dir;
    std::vector<std::string> args{KVMHUB_DAEMON_PATH, "--data-dir", data_dir_};
    if (options.default_listen) args.insert(args.end(), {"--listen", "127.0.0.1:0"});
    args.insert(args.end(), options.args.begin(), options.args.end());
    auto env = options.env;
    env.emplace("KVMHUB_ADMIN_PASSWORD", admin_password_);
    env.emplace("KVMHUB_DEMO", "false");
    Spawned s = spawn(args, env);
    close(s.in_fd);
    pid_ = s.pid;
    reader_ = std::thread([this, fd = s.out_fd] { read_output(fd); });
    if (!options.wait_ready) return;
    if (!wait_for_output("listening")) {
        stop(SIGKILL);
        throw std::runtime_error("kvmhubd did not start:\n" + output());
    }
    std::smatch m;
    std::string out = output();
    static const std::regex listening(R"(listening .*http[s]?://127\.0\.0\.1:(\d+))");
    if (!std::regex_search(out, m, listening)) throw std::runtime_error("no port in kvmhubd output:\n" + out);
    port_ = std::stoi(m[1]);
    url_ = (out.find("https://127.0.0.1") != std::string::npos ? "https" : "http") + std::string("://127.0.0.1:") +
           std::to_string(port_);
}

Daemon::~Daemon() {
    if (exit_code_ < 0 && pid_ > 0) stop(SIGKILL);
    if (reader_.joinable()) reader_.join();
}

void Daemon::read_output(int fd) {
    char buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) break;
        std::lock_guard lock(mutex_);
        output_.append(buf, static_cast<size_t>(n));
        changed_.notify_all();
    }
    close(fd);
    std::lock_guard lock(mutex_);
    eof_ = true;
    changed_.notify_all();
}

std::string Daemon::output() const {
    std::lock_guard lock(mutex_);
    return output_;
}

bool Daemon::wait_for_output(const std::string& text, std::chrono::seconds timeout) const {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return output_.find(text) != std::string::npos || eof_; }) &&
           output_.find(text) != std::string::npos;
}

int Daemon::stop(int signo, std::chrono::seconds timeout) {
    if (exit_code_ >= 0) return exit_code_;
    kill(pid_, signo);
    int code = wait_exit(timeout);
    if (code == -1) {
        kill(pid_, SIGKILL);
        code = wait_exit(std::chrono::seconds(10));
    }
    return code;
}

int Daemon::wait_exit(std::chrono::seconds timeout) {
    if (exit_code_ >= 0) return exit_code_;
    int code = wait_with_timeout(pid_, timeout);
    if (code == -2) return -1;
    exit_code_ = code;
    return code;
}

int Daemon::listener_port(const std::string& name) const {
    const std::string tag = "(listener " + name + ")";
    if (!wait_for_output(tag)) return 0;
    const std::regex line(R"(listening on https?://127\.0\.0\.1:(\d+) \(listener )" + name + R"(\))");
    std::smatch m;
    const std::string out = output();
    return std::regex_search(out, m, line) ? std::stoi(m[1]) : 0;
}

std::string Daemon::login(const std::string& base_url) const {
    auto r = http_post((base_url.empty() ? url_ : base_url) + "/api/login",
                       nlohmann::json{{"username", "admin"}, {"password", admin_password_}}.dump());
    auto token = r.json().value("token", std::string());
    if (r.status != 200 || token.empty()) throw std::runtime_error("login failed: " + r.body + r.error);
    return token;
}

CommandResult run_command(const std::vector<std::string>& argv, const std::string& input,
                          const std::map<std::string, std::string>& env, std::chrono::seconds timeout) {
    Spawned s = spawn(argv, env);
    if (!input.empty()) {
        ssize_t ignored = write(s.in_fd, input.data(), input.size());
        (void)ignored;
    }
    close(s.in_fd);
    CommandResult result;
    char buf[4096];
    ssize_t n;
    while ((n = read(s.out_fd, buf, sizeof buf)) > 0) result.output.append(buf, static_cast<size_t>(n));
    close(s.out_fd);
    result.exit_code = wait_with_timeout(s.pid, timeout);
    return result;
}

CommandResult run_kvmhubd(const std::vector<std::string>& args, const std::string& input,
                          const std::map<std::string, std::string>& env) {
    std::vector<std::string> argv{KVMHUB_DAEMON_PATH};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, input, env);
}

}  // namespace kvmhub::test
