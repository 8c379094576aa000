// Tasks on a real SQLite store: lifecycle, log tail, following changes, restart recovery from a
// file written by an earlier "daemon", pruning.
#include "vm/tasks.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "common/ids.hpp"
#include "store/sqlite_store.hpp"
#include "support/temp_dir.hpp"

namespace kvmhub::vm {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class Tasks : public ::testing::Test {
protected:
    void SetUp() override {
        auto opened = store::SqliteStore::open(dir_.file("kvmhub.db"), clock_);
        ASSERT_TRUE(opened) << opened.error().desc;
        store_ = std::move(*opened);
    }

    json stored(const std::string& id) {
        auto kv = store_->get(std::string(kTasksPrefix) + id);
        EXPECT_TRUE(kv && *kv);
        return kv && *kv ? json::parse((*kv)->value) : json();
    }

    test::TempDir dir_;
    ManualClock clock_{std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000))};
    std::unique_ptr<store::SqliteStore> store_;
};

TEST_F(Tasks, LifecycleOfADoneTask) {
    TaskService tasks(*store_, clock_, "owner-a");
    auto id = tasks.create("disk", "h1", "6f1c3e4a-8d2b-4c1e-9a7f-0b1c2d3e4f50", "starting");
    ASSERT_TRUE(id) << id.error().desc;
    EXPECT_TRUE(is_uuid(*id));
    json t = stored(*id);
    EXPECT_EQ(t["id"], *id);
    EXPECT_EQ(t["kind"], "disk");
    EXPECT_EQ(t["host"], "h1");
    EXPECT_EQ(t["uuid"], "6f1c3e4a-8d2b-4c1e-9a7f-0b1c2d3e4f50");
    EXPECT_EQ(t["state"], "running");
    EXPECT_EQ(t["progress"], 0);
    EXPECT_EQ(t["message"], "starting");
    EXPECT_EQ(t["owner"], "owner-a");
    EXPECT_EQ(t["created"], "2023-11-14T22:13:20.000Z");
    EXPECT_EQ(t["cleanup"], json::array());

    clock_.advance(1500ms);
    ASSERT_TRUE(tasks.progress(*id, 40, "uploading"));
    ASSERT_TRUE(tasks.add_cleanup(*id, "pool/vol-1"));
    ASSERT_TRUE(tasks.add_cleanup(*id, "pool/vol-2"));
    ASSERT_TRUE(tasks.add_cleanup(*id, "pool/vol-1"));  // once only
    ASSERT_TRUE(tasks.remove_cleanup(*id, "pool/vol-2"));
    t = stored(*id);
    EXPECT_EQ(t["progress"], 40);
    EXPECT_EQ(t["message"], "uploading");
    EXPECT_EQ(t["updated"], "2023-11-14T22:13:21.500Z");
    EXPECT_EQ(t["cleanup"], json::array({"pool/vol-1"}));
    ASSERT_TRUE(tasks.progress(*id, -1, "still uploading"));
    EXPECT_EQ(stored(*id)["progress"], 40);

    ASSERT_TRUE(tasks.finish(*id, {{"dev", "vdb"}}));
    t = stored(*id);
    EXPECT_EQ(t["state"], "done");
    EXPECT_EQ(t["progress"], 100);
    EXPECT_EQ(t["result"], (json{{"dev", "vdb"}}));
    EXPECT_EQ(t["cleanup"], json::array());
    EXPECT_EQ(*tasks.get(*id), t);

    // An ended task does not change any more.
    auto again = tasks.progress(*id, 50);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, Errc::Conflict);
    EXPECT_FALSE(tasks.fail(*id, Error{Errc::Internal, "x", "late"}));
    EXPECT_EQ(stored(*id)["state"], "done");
}

TEST_F(Tasks, FailedTaskKeepsItsErrorAndWhatIsLeft) {
    TaskService tasks(*store_, clock_, "owner-a");
    auto id = tasks.create("gold-upload", "h1", "");
    ASSERT_TRUE(id);
    ASSERT_TRUE(tasks.add_cleanup(*id, "pool/base-1"));
    ASSERT_TRUE(tasks.fail(*id, Error{Errc::HostError, "upload", "no space left on device"}));
    json t = stored(*id);
    EXPECT_EQ(t["state"], "failed");
    EXPECT_EQ(t["message"], "no space left on device");
    EXPECT_EQ(t["error"],
              (json{{"code", errc_name(Errc::HostError)}, {"where", "upload"}, {"desc", "no space left on device"}}));
    EXPECT_EQ(t["cleanup"], json::array({"pool/base-1"}));
}

TEST_F(Tasks, LogKeepsTheLastLines) {
    TaskService tasks(*store_, clock_, "owner-a", TaskOptions{.log_lines = 3});
    auto id = tasks.create("disk", "h1", "");
    ASSERT_TRUE(id);
    for (int i = 1; i <= 5; ++i) ASSERT_TRUE(tasks.log(*id, "line " + std::to_string(i)));
    EXPECT_EQ(stored(*id)["log"], json::array({"line 3", "line 4", "line 5"}));
}

TEST_F(Tasks, UnknownAndMalformedIds) {
    TaskService tasks(*store_, clock_, "owner-a");
    auto missing = tasks.get(new_uuid());
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, Errc::NotFound);
    auto bad = tasks.get("../../catalog/hosts/h1");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().code, Errc::NotFound);
    EXPECT_EQ(tasks.progress(new_uuid(), 1).error().code, Errc::NotFound);
    EXPECT_EQ(tasks
                  .follow(
                      new_uuid(), [](const json&) { return true; }, [] { return true; }, 1s)
                  .error()
                  .code,
              Errc::NotFound);
}

TEST_F(Tasks, FollowSeesEveryChangeInOrderAndEndsWithTheTask) {
    TaskService tasks(*store_, clock_, "owner-a");
    auto id = tasks.create("disk", "h1", "");
    ASSERT_TRUE(id);
    std::mutex mutex;
    std::vector<json> seen;
    std::atomic<std::size_t> count{0};
    std::thread follower([&] {
        auto ok = tasks.follow(
            *id,
            [&](const json& t) {
                std::lock_guard lock(mutex);
                seen.push_back(t);
                ++count;
                return true;
            },
            [] { return true; }, 20ms);
        EXPECT_TRUE(ok) << ok.error().desc;
    });
    // Each change waits for the follower to have seen the one before, so none is coalesced away.
    auto wait_seen = [&](std::size_t n) {
        for (int i = 0; i < 2000 && count < n; ++i) std::this_thread::sleep_for(5ms);
    };
    wait_seen(1);
    for (int p = 10; p <= 30; p += 10) {
        ASSERT_TRUE(tasks.progress(*id, p));
        wait_seen(static_cast<std::size_t>(p / 10 + 1));
    }
    ASSERT_TRUE(tasks.finish(*id));
    follower.join();
    ASSERT_EQ(seen.size(), 5u);
    EXPECT_EQ(seen[0]["progress"], 0);
    EXPECT_EQ(seen[1]["progress"], 10);
    EXPECT_EQ(seen[2]["progress"], 20);
    EXPECT_EQ(seen[3]["progress"], 30);
    EXPECT_EQ(seen[4]["state"], "done");
}

TEST_F(Tasks, FollowingAFinishedTaskGivesItsFinalStateAtOnce) {
    TaskService tasks(*store_, clock_, "owner-a");
    auto id = tasks.create("disk", "h1", "");
    ASSERT_TRUE(id);
    ASSERT_TRUE(tasks.fail(*id, Error{Errc::HostError, "x", "boom"}));
    std::vector<json> seen;
    auto ok = tasks.follow(
        *id,
        [&](const json& t) {
            seen.push_back(t);
            return true;
        },
        [] { return true; }, 1h);
    ASSERT_TRUE(ok);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0]["state"], "failed");
}

TEST_F(Tasks, FollowStopsWhenTheIdleCallbackSaysSo) {
    TaskService tasks(*store_, clock_, "owner-a");
    auto id = tasks.create("disk", "h1", "");
    ASSERT_TRUE(id);
    int idles = 0;
    auto ok = tasks.follow(
        *id, [](const json&) { return true; }, [&] { return ++idles < 3; }, 10ms);
    ASSERT_TRUE(ok);
    EXPECT_EQ(idles, 3);
}

// A daemon wrote running tasks into its SQLite file and died; the next one starts on that file.
TEST_F(Tasks, RecoveryFailsInterruptedTasksAndHandsOverTheirCleanup) {
    std::string mine, done, other;
    {
        TaskService before(*store_, clock_, "daemon-1");
        mine = *before.create("disk", "h1", "6f1c3e4a-8d2b-4c1e-9a7f-0b1c2d3e4f50");
        ASSERT_TRUE(before.add_cleanup(mine, "kvmhub/vdb-6f1c3e4a.qcow2"));
        ASSERT_TRUE(before.add_cleanup(mine, "kvmhub/gold-debian12-abcd.qcow2"));
        done = *before.create("disk", "h1", "");
        ASSERT_TRUE(before.finish(done));
        TaskService someone_else(*store_, clock_, "daemon-2");
        other = *someone_else.create("disk", "h2", "");
        ASSERT_TRUE(someone_else.add_cleanup(other, "kvmhub/other"));
    }
    store_.reset();
    auto reopened = store::SqliteStore::open(dir_.file("kvmhub.db"), clock_);
    ASSERT_TRUE(reopened) << reopened.error().desc;
    store_ = std::move(*reopened);

    TaskService after(*store_, clock_, "daemon-1");
    std::vector<std::pair<std::string, std::string>> cleaned;
    auto recovered = after.recover(
        [&](const json& task, const std::string& entry) -> Status {
            cleaned.emplace_back(task.value("id", ""), entry);
            if (entry.starts_with("kvmhub/gold")) return fail(Errc::HostUnavailable, "h1", "host h1 is down");
            return {};
        },
        false);
    ASSERT_TRUE(recovered) << recovered.error().desc;
    EXPECT_EQ(*recovered, 1u);
    EXPECT_EQ(cleaned, (std::vector<std::pair<std::string, std::string>>{{mine, "kvmhub/vdb-6f1c3e4a.qcow2"},
                                                                         {mine, "kvmhub/gold-debian12-abcd.qcow2"}}));
    json t = stored(mine);
    EXPECT_EQ(t["state"], "failed");
    EXPECT_EQ(t["message"], std::string(kInterruptedMessage));
    EXPECT_EQ(t["error"]["desc"], std::string(kInterruptedMessage));
    EXPECT_EQ(t["cleanup"], json::array({"kvmhub/gold-debian12-abcd.qcow2"})) << "what could not be removed stays";
    EXPECT_EQ(t["log"], json::array({"cleanup kvmhub/vdb-6f1c3e4a.qcow2: removed",
                                     "cleanup kvmhub/gold-debian12-abcd.qcow2: host h1 is down"}));
    EXPECT_EQ(stored(done)["state"], "done");
    EXPECT_EQ(stored(other)["state"], "running") << "another daemon's task is left alone";

    // A store only this daemon uses (SQLite): every running task is interrupted, whoever ran it.
    cleaned.clear();
    auto all = after.recover(
        [&](const json& task, const std::string& entry) -> Status {
            cleaned.emplace_back(task.value("id", ""), entry);
            return {};
        },
        true);
    ASSERT_TRUE(all);
    EXPECT_EQ(*all, 1u);
    EXPECT_EQ(cleaned, (std::vector<std::pair<std::string, std::string>>{{other, "kvmhub/other"}}));
    EXPECT_EQ(stored(other)["state"], "failed");
    EXPECT_EQ(stored(other)["cleanup"], json::array());
}

TEST_F(Tasks, PruneDropsOldFinishedTasksAndKeepsRunningOnes) {
    TaskService tasks(*store_, clock_, "owner-a", TaskOptions{.keep_finished = 24h, .max_finished = 2});
    auto old_done = *tasks.create("disk", "h1", "");
    ASSERT_TRUE(tasks.finish(old_done));
    auto old_running = *tasks.create("disk", "h1", "");
    clock_.advance(25h);
    std::vector<std::string> recent;
    for (int i = 0; i < 3; ++i) {
        recent.push_back(*tasks.create("disk", "h1", ""));
        clock_.advance(1s);
        ASSERT_TRUE(tasks.finish(recent.back()));
    }
    auto removed = tasks.prune();
    ASSERT_TRUE(removed) << removed.error().desc;
    EXPECT_EQ(*removed, 2u);
    EXPECT_EQ(tasks.get(old_done).error().code, Errc::NotFound) << "older than keep_finished";
    EXPECT_EQ(tasks.get(recent[0]).error().code, Errc::NotFound) << "beyond max_finished";
    EXPECT_TRUE(tasks.get(recent[1]));
    EXPECT_TRUE(tasks.get(recent[2]));
    EXPECT_TRUE(tasks.get(old_running)) << "running tasks are never pruned";
}

TEST(InstanceId, PersistsPerDataDir) {
    test::TempDir dir;
    auto first = load_or_create_instance_id(dir.path().string());
    ASSERT_TRUE(first) << first.error().desc;
    EXPECT_TRUE(is_uuid(*first));
    auto second = load_or_create_instance_id(dir.path().string());
    ASSERT_TRUE(second);
    EXPECT_EQ(*first, *second);
    test::TempDir other;
    EXPECT_NE(*load_or_create_instance_id(other.path().string()), *first);
    auto missing = load_or_create_instance_id(dir.file("no/such/dir"));
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, Errc::Internal);
}

}  // namespace
}  // namespace kvmhub::vm
