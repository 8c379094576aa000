#include "support/sshd.hpp"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "support/daemon.hpp"
#include "support/local.hpp"

namespace kvmhub::test {
namespace {

void write_text(const std::string& path, const std::string& text) {
    std::ofstream out(path);
    out << text;
}

}  // namespace

std::string current_user() {
    const passwd* pw = getpwuid(getuid());
    return pw ? pw->pw_name : "root";
}

Sshd::Sshd(SshdOptions options) : port_(options.port ? options.port : free_port()) {
    if (options.host_key.empty()) {
        auto made = run_command({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", host_key()});
        if (made.exit_code != 0) {
            error_ = "ssh-keygen: " + made.output;
            return;
        }
    } else {
        std::filesystem::copy_file(options.host_key, host_key());
        chmod(host_key().c_str(), 0600);
    }
    write_text(dir_.file("authorized_keys"), options.authorized_keys);
    // sshd wants its privilege separation directory even with UsePrivilegeSeparation gone.
    mkdir("/run/sshd", 0755);
    const std::string config = "Port " + std::to_string(port_) +
                               "\n"
                               "ListenAddress 127.0.0.1\n"
                               "HostKey " +
                               host_key() +
                               "\n"
                               "AuthorizedKeysFile " +
                               dir_.file("authorized_keys") +
                               "\n"
                               "PidFile " +
                               dir_.file("sshd.pid") +
                               "\n"
                               "StrictModes no\n"
                               "UsePAM no\n"
                               "PasswordAuthentication no\n"
                               "KbdInteractiveAuthentication no\n"
                               "PermitRootLogin prohibit-password\n"
                               "AllowTcpForwarding yes\n"
                               "LogLevel DEBUG1\n";
    write_text(dir_.file("sshd_config"), config);
    // -e and stderr to the log: with -E, the re-executed per-connection sshd would not log there.
    pid_ = start_server({"/usr/sbin/sshd", "-D", "-e", "-f", dir_.file("sshd_config")}, dir_.file("sshd.log"));
    if (pid_ < 0) {
        error_ = "fork failed";
        return;
    }
    if (!wait_for_log("Server listening on 127.0.0.1 port " + std::to_string(port_))) {
        error_ = "sshd did not start: " + log();
        stop();
    }
}

Sshd::~Sshd() {
    stop();
}

void Sshd::stop() {
    stop_server(pid_);
}

std::string Sshd::log() const {
    return read_file(dir_.file("sshd.log"));
}

bool Sshd::wait_for_channel_to(int port, std::chrono::seconds timeout) const {
    const std::string target = ", target 127.0.0.1 port " + std::to_string(port);
    return eventually(
        [&] {
            std::istringstream lines(log());
            for (std::string line; std::getline(lines, line);) {
                if (!line.empty() && line.back() == '\r') line.pop_back();  // sshd -e ends lines with \r\n
                if (line.find("server_request_direct_tcpip: originator") != std::string::npos && line.ends_with(target))
                    return true;
            }
            return false;
        },
        timeout);
}

bool Sshd::wait_for_log(const std::string& text, std::chrono::seconds timeout) const {
    return eventually([&] { return log().find(text) != std::string::npos; }, timeout);
}

}  // namespace kvmhub::test
