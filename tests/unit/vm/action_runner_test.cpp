// Action scripts run by real bash: environment and stdin, streaming, time limit, cancellation,
// failures, descriptors and process groups.
#include "vm/action_runner.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "support/temp_dir.hpp"

namespace kvmhub::vm {
namespace {

using namespace std::chrono_literals;

struct Outcome {
    Status status;
    std::vector<std::string> lines;
};

Outcome run(ActionSpec spec) {
    Outcome r;
    if (spec.name.empty()) spec.name = "disk.test";
    r.status = run_action(spec, [&](std::string_view line) {
        r.lines.emplace_back(line);
        return true;
    });
    return r;
}

ActionSpec script(std::string source) {
    ActionSpec spec;
    spec.name = "disk.test";
    spec.script = std::move(source);
    spec.timeout = 60s;
    return spec;
}

// Dead, or a zombie waiting for whoever adopted it: either way it no longer runs. Polled because
// SIGKILL is delivered asynchronously; the bound only keeps a broken build from hanging.
bool gone(pid_t pid) {
    for (int i = 0; i < 500; ++i) {
        if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
        std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
        std::string text;
        std::getline(stat, text);
        const auto paren = text.rfind(')');
        if (paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] == 'Z') return true;
        std::this_thread::sleep_for(10ms);
    }
    return false;
}

pid_t child_pid(const std::vector<std::string>& lines) {
    for (const auto& l : lines)
        if (l.starts_with("child ")) return static_cast<pid_t>(std::stol(l.substr(6)));
    return -1;
}

std::size_t open_fds() {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
    return n;
}

TEST(ActionRunner, EnvironmentIsExactlyTheGivenOneAndPath) {
    ::setenv("KVMHUB_TEST_SECRET", "do-not-leak", 1);
    ActionSpec spec = script("tr '\\0' '\\n' < /proc/$$/environ | sort\n");
    spec.env = action_environment({{"name", "h1"},
                                   {"url", "qemu+ssh://root@192.0.2.7:60022/system"},
                                   {"ipaddr", "192.0.2.7"},
                                   {"sshport", 60022},
                                   {"sshuser", "root"},
                                   {"arch", "x86_64"}},
                                  "disk.file", {{"ACT_TMOUT", "5"}, {"ACT_API_KEY", "k 1; $(reboot)"}});
    Outcome r = run(spec);
    ::unsetenv("KVMHUB_TEST_SECRET");
    ASSERT_TRUE(r.status) << r.status.error().desc;
    EXPECT_EQ(r.lines, (std::vector<std::string>{
                           "ACT_API_KEY=k 1; $(reboot)",
                           "ACT_TMOUT=5",
                           "HOSTIP=192.0.2.7",
                           "PATH=" + std::string(kActionPath),
                           "SSHPORT=60022",
                           "SSHUSER=root",
                           "TYPE=disk",
                           "URL=qemu+ssh://root@192.0.2.7:60022/system",
                       }));
}

TEST(ActionRunner, StdinIsTheRequestWithUuidLastDiskAndGoldUrl) {
    const nlohmann::json request = {
        {"size", 20}, {"gold", "debian12"}, {"vm_disk_bus", "virtio"}, {"x", "'\"; rm -rf /"}};
    ActionSpec spec = script("cat\n");
    spec.input =
        action_input(request, "6f1c3e4a-8d2b-4c1e-9a7f-0b1c2d3e4f50", "b", "http://gold.local/gold/debian12.qcow2");
    Outcome r = run(spec);
    ASSERT_TRUE(r.status) << r.status.error().desc;
    ASSERT_EQ(r.lines.size(), 1u);
    const auto got = nlohmann::json::parse(r.lines[0]);
    EXPECT_EQ(got, (nlohmann::json{{"size", 20},
                                   {"gold", "http://gold.local/gold/debian12.qcow2"},
                                   {"vm_disk_bus", "virtio"},
                                   {"x", "'\"; rm -rf /"},
                                   {"vm_uuid", "6f1c3e4a-8d2b-4c1e-9a7f-0b1c2d3e4f50"},
                                   {"vm_last_disk", "b"}}));
}

TEST(ActionRunner, BlankGoldStaysBlankAndNoGoldIsNotAdded) {
    auto blank = nlohmann::json::parse(action_input({{"gold", ""}}, "u", "a", ""));
    EXPECT_EQ(blank.at("gold"), "");
    auto none = nlohmann::json::parse(action_input({{"size", 1}}, "u", "a", ""));
    EXPECT_FALSE(none.contains("gold"));
    auto not_object = nlohmann::json::parse(action_input(nlohmann::json::array(), "u", "c", ""));
    EXPECT_EQ(not_object, (nlohmann::json{{"vm_uuid", "u"}, {"vm_last_disk", "c"}}));
}

TEST(ActionRunner, RunsUnderBashWithErrexitAndNounset) {
    Outcome e = run(script("echo before\nfalse\necho after\n"));
    ASSERT_FALSE(e.status);
    EXPECT_EQ(e.status.error().code, Errc::HostError);
    EXPECT_EQ(e.lines, std::vector<std::string>{"before"});
    Outcome u = run(script("echo \"$NOT_SET\"\necho after\n"));
    ASSERT_FALSE(u.status);
    EXPECT_EQ(std::count(u.lines.begin(), u.lines.end(), "after"), 0);
    Outcome b = run(script("[[ 1 == 1 ]] && echo \"$0\" && pwd\n"));
    ASSERT_TRUE(b.status) << b.status.error().desc;
    ASSERT_EQ(b.lines.size(), 2u);
    EXPECT_TRUE(b.lines[0].ends_with("/disk.test.action")) << b.lines[0];
    EXPECT_EQ(std::filesystem::path(b.lines[0]).parent_path().string(), b.lines[1]);
    EXPECT_FALSE(std::filesystem::exists(b.lines[1])) << "the private directory is removed";
}

TEST(ActionRunner, OutputLinesArriveInOrderAsTheyAreWritten) {
    test::TempDir dir;
    const std::string flag = dir.file("flag");
    // The script writes its second line only after the callback has seen the first one (it
    // creates the flag file); output buffered until the end would hang here until the timeout.
    ActionSpec spec = script(
        "echo one\n"
        "echo err-one >&2\n"
        "while [ ! -e \"$ACT_FLAG\" ]; do sleep 0.02; done\n"
        "echo two\n"
        "echo err-two >&2\n"
        "echo three\n");
    spec.env = {{"ACT_FLAG", flag}};
    spec.timeout = 30s;
    std::vector<std::string> lines;
    auto status = run_action(spec, [&](std::string_view line) {
        lines.emplace_back(line);
        if (line == "err-one") std::ofstream(flag) << "go";
        return true;
    });
    ASSERT_TRUE(status) << status.error().desc;
    EXPECT_EQ(lines, (std::vector<std::string>{"one", "err-one", "two", "err-two", "three"}));
}

TEST(ActionRunner, TimeoutKillsTheScriptAndItsChildren) {
    ActionSpec spec = script("sleep 1000 &\necho \"child $!\"\nsleep 1000\n");
    spec.timeout = 1s;
    spec.kill_grace = 1s;
    Outcome r = run(spec);
    ASSERT_FALSE(r.status);
    EXPECT_EQ(r.status.error().code, Errc::HostTimeout);
    EXPECT_EQ(r.status.error().desc, "action disk.test timed out after 1 s");
    const pid_t child = child_pid(r.lines);
    ASSERT_GT(child, 0);
    EXPECT_TRUE(gone(child));
}

TEST(ActionRunner, TimeoutEndsAScriptThatIgnoresSigterm) {
    ActionSpec spec = script("trap '' TERM\nsleep 1000 &\necho \"child $!\"\nwhile :; do sleep 1; done\n");
    spec.timeout = 1500ms;
    spec.kill_grace = 500ms;
    Outcome r = run(spec);
    ASSERT_FALSE(r.status);
    EXPECT_EQ(r.status.error().desc, "action disk.test timed out after 1.5 s");
    const pid_t child = child_pid(r.lines);
    ASSERT_GT(child, 0);
    EXPECT_TRUE(gone(child));
}

TEST(ActionRunner, NonZeroExitIsAnErrorWithStatusAndLastLines) {
    ActionSpec spec = script("for i in $(seq 1 30); do echo \"line $i\"; done\necho 'no space left' >&2\nexit 3\n");
    spec.tail_lines = 3;
    Outcome r = run(spec);
    ASSERT_FALSE(r.status);
    EXPECT_EQ(r.status.error().code, Errc::HostError);
    EXPECT_EQ(r.status.error().desc, "action disk.test failed with exit status 3: line 29 | line 30 | no space left");
    EXPECT_EQ(r.lines.size(), 31u);
}

TEST(ActionRunner, DeathBySignalIsAnError) {
    Outcome r = run(script("echo bye\nkill -KILL $$\n"));
    ASSERT_FALSE(r.status);
    EXPECT_EQ(r.status.error().desc, "action disk.test failed with signal 9: bye");
}

TEST(ActionRunner, SinkReturningFalseKillsTheGroup) {
    ActionSpec spec = script("sleep 1000 &\necho \"child $!\"\nsleep 1000\necho never\n");
    std::vector<std::string> lines;
    auto status = run_action(spec, [&](std::string_view line) {
        lines.emplace_back(line);
        return false;  // the client went away after the first line
    });
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().code, Errc::Conflict);
    EXPECT_EQ(status.error().desc, "action disk.test cancelled: the client went away");
    ASSERT_EQ(lines.size(), 1u);
    const pid_t child = child_pid(lines);
    ASSERT_GT(child, 0);
    EXPECT_TRUE(gone(child));
}

TEST(ActionRunner, BackgroundJobsDoNotOutliveAFinishedScript) {
    // The job keeps the output pipe open; the run must still end, and take the job with it.
    Outcome r = run(script("sleep 1000 &\necho \"child $!\"\necho done\n"));
    ASSERT_TRUE(r.status) << r.status.error().desc;
    EXPECT_EQ(r.lines.back(), "done");
    const pid_t child = child_pid(r.lines);
    ASSERT_GT(child, 0);
    EXPECT_TRUE(gone(child));
}

TEST(ActionRunner, NoDescriptorLeaksIntoTheScriptOrOutOfTheRun) {
    // A descriptor opened without O_CLOEXEC, as a careless library might.
    const int leaky = ::open("/dev/null", O_RDONLY);
    ASSERT_GE(leaky, 0);
    const std::size_t before = open_fds();
    // bash keeps its script open on fd 255; `ls` lists bash's descriptors, not its own.
    Outcome r = run(script("ls /proc/$$/fd\n"));
    const std::size_t after = open_fds();
    ::close(leaky);
    ASSERT_TRUE(r.status) << r.status.error().desc;
    std::set<std::string> fds(r.lines.begin(), r.lines.end());
    EXPECT_EQ(fds, (std::set<std::string>{"0", "1", "2", "255"}));
    EXPECT_EQ(before, after);
}

TEST(ActionRunner, BigOutputAndBigInput) {
    ActionSpec spec = script("seq 1 200000\nwc -c\nhead -c 150000 /dev/zero | tr '\\0' x\necho\n");
    spec.input = std::string(3 << 20, 'j');
    spec.max_line_bytes = 64 << 10;
    Outcome r = run(spec);
    ASSERT_TRUE(r.status) << r.status.error().desc;
    ASSERT_EQ(r.lines.size(), 200000u + 1 + 3);
    for (std::size_t i = 0; i < 200000; ++i) ASSERT_EQ(r.lines[i], std::to_string(i + 1));
    EXPECT_EQ(r.lines[200000], std::to_string(3 << 20));
    EXPECT_EQ(r.lines[200001].size(), 65536u);
    EXPECT_EQ(r.lines[200002].size(), 65536u);
    EXPECT_EQ(r.lines[200003], std::string(150000 - 2 * 65536, 'x'));
}

TEST(ActionRunner, LastLineWithoutNewlineAndCarriageReturns) {
    Outcome r = run(script("printf 'a\\n\\nb\\r\\n10%%\\r20%%\\r\\rlast'\n"));
    ASSERT_TRUE(r.status) << r.status.error().desc;
    EXPECT_EQ(r.lines, (std::vector<std::string>{"a", "", "b", "10%", "20%", "last"}));
}

TEST(ActionRunner, ScriptThatDoesNotReadItsInput) {
    ActionSpec spec = script("echo ok\n");
    spec.input = std::string(1 << 20, 'j');
    Outcome r = run(spec);
    ASSERT_TRUE(r.status) << r.status.error().desc;
    EXPECT_EQ(r.lines, std::vector<std::string>{"ok"});
}

TEST(ActionRunner, SeveralAtOnce) {
    std::vector<std::thread> threads;
    std::mutex mutex;
    std::vector<std::string> failures;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            ActionSpec spec = script("read -r n\nfor i in 1 2 3; do echo \"$n-$i\"; sleep 0.01; done\n");
            spec.input = std::to_string(t) + "\n";
            Outcome r = run(spec);
            const std::vector<std::string> want{std::to_string(t) + "-1", std::to_string(t) + "-2",
                                                std::to_string(t) + "-3"};
            std::lock_guard lock(mutex);
            if (!r.status) failures.push_back(r.status.error().desc);
            if (r.lines != want) failures.push_back("thread " + std::to_string(t) + " got other lines");
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_TRUE(failures.empty()) << failures.front();
}

}  // namespace
}  // namespace kvmhub::vm
