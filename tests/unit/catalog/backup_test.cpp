#include "catalog/backup.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/stores.hpp"

namespace kvmhub::catalog {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Listing = std::vector<std::pair<std::string, std::string>>;

// One member of a hand-made archive; anything libarchive can write, hostile or not.
struct Raw {
    std::string name;
    std::string data;
    unsigned type = AE_IFREG;
    std::string hardlink;
    std::string symlink;
    std::size_t zeros = 0;  // when set, the content is this many zero bytes instead of `data`
};

std::string manifest(std::size_t keys, int version = 1) {
    return nlohmann::json{{"format", "kvmhub-backup"}, {"version", version}, {"keys", keys}}.dump();
}

la_ssize_t append_to(archive*, void* out, const void* buffer, std::size_t length) {
    static_cast<std::string*>(out)->append(static_cast<const char*>(buffer), length);
    return static_cast<la_ssize_t>(length);
}

std::string craft(const std::vector<Raw>& members, bool gzip = true) {
    std::string out;
    archive* a = archive_write_new();
    if (gzip) archive_write_add_filter_gzip(a);
    archive_write_set_format_pax_restricted(a);
    archive_write_set_bytes_in_last_block(a, 1);
    archive_write_open(a, &out, nullptr, append_to, nullptr);
    for (const Raw& m : members) {
        archive_entry* e = archive_entry_new();
        archive_entry_copy_pathname(e, m.name.c_str());
        archive_entry_set_filetype(e, m.type);
        archive_entry_set_perm(e, 0644);
        if (!m.hardlink.empty()) archive_entry_copy_hardlink(e, m.hardlink.c_str());
        if (!m.symlink.empty()) archive_entry_copy_symlink(e, m.symlink.c_str());
        const bool has_data = m.type == AE_IFREG && m.hardlink.empty();
        archive_entry_set_size(e, has_data ? static_cast<la_int64_t>(m.zeros != 0 ? m.zeros : m.data.size()) : 0);
        EXPECT_EQ(archive_write_header(a, e), ARCHIVE_OK) << m.name << ": " << archive_error_string(a);
        if (has_data && m.zeros != 0) {
            const std::string chunk(1 << 20, '\0');
            for (std::size_t left = m.zeros; left > 0; left -= std::min(left, chunk.size())) {
                archive_write_data(a, chunk.data(), std::min(left, chunk.size()));
            }
        } else if (has_data) {
            archive_write_data(a, m.data.data(), m.data.size());
        }
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    return out;
}

// A gzip stream of bytes that are not a tar.
std::string gzip_of(const std::string& text) {
    std::string out;
    archive* a = archive_write_new();
    archive_write_add_filter_gzip(a);
    archive_write_set_format_raw(a);
    archive_write_open(a, &out, nullptr, append_to, nullptr);
    archive_entry* e = archive_entry_new();
    archive_entry_set_filetype(e, AE_IFREG);
    archive_write_header(a, e);
    archive_write_data(a, text.data(), text.size());
    archive_entry_free(e);
    archive_write_close(a);
    archive_write_free(a);
    return out;
}

struct Seen {
    std::string name;
    std::string data;
    unsigned mode = 0;
    la_int64_t uid = -1;
    la_int64_t gid = -1;
    time_t mtime = 0;
};

std::vector<Seen> read_members(const std::string& bytes) {
    std::vector<Seen> seen;
    archive* a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_all(a);
    EXPECT_EQ(archive_read_open_memory(a, bytes.data(), bytes.size()), ARCHIVE_OK);
    archive_entry* e = nullptr;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        Seen s{archive_entry_pathname(e), {}, archive_entry_mode(e), archive_entry_uid(e), archive_entry_gid(e),
               archive_entry_mtime(e)};
        char buf[8192];
        for (la_ssize_t n; (n = archive_read_data(a, buf, sizeof buf)) > 0;) s.data.append(buf, n);
        seen.push_back(std::move(s));
    }
    archive_read_free(a);
    return seen;
}

Listing dump(store::Store& store, std::string_view prefix = "") {
    Listing out;
    auto listed = store.list(prefix);
    EXPECT_TRUE(listed);
    if (listed) {
        for (const auto& kv : *listed) out.emplace_back(kv.key, kv.value);
    }
    return out;
}

BackupSpec catalog_spec() {
    BackupSpec spec;
    spec.prefixes = {"/catalog/", "/templates/"};
    spec.validate = [](const std::string&, const std::string& value) -> Status {
        if (value == "refuse me") return fail(Errc::BadInput, "value", "not a valid template");
        return {};
    };
    return spec;
}

class BackupTest : public ::testing::Test {
protected:
    void SetUp() override {
        store_ = test::open_memory_store();
        std::string every_byte;
        for (int i = 0; i < 256; ++i) every_byte += static_cast<char>(i);
        put("/catalog/iso/debian12", R"({"name":"debian12","uri":"http://mirror/debian.iso"})");
        put("/catalog/gold/x86_64/debian12", every_byte + std::string("\r\n\0tail", 7));
        put("/catalog/hosts/kvm1", "中文描述：主机一号");
        put("/catalog/中文键", "unicode key");
        put("/catalog/empty", "");
        put("/templates/device/disk.file", "<disk type='file'>{{ vm_disk }}</disk>\n");
        put("/templates/domain/big", std::string(900 * 1024, 'x') + every_byte);
        put("/users/admin", "argon2id-hash");
        put("/secrets/jwt", "secret");
    }
    void put(const std::string& key, const std::string& value) { ASSERT_TRUE(store_->put(key, value)); }
    std::string backup() {
        auto made = make_backup(*store_, catalog_spec(), clock_);
        EXPECT_TRUE(made) << (made ? "" : made.error().desc);
        return made ? *made : std::string();
    }

    std::unique_ptr<store::Store> store_;
    ManualClock clock_{std::chrono::system_clock::time_point(std::chrono::seconds(1714564800))};
};

TEST_F(BackupTest, RestoreAfterWipeReproducesEveryValueByteForByte) {
    const Listing before = dump(*store_);
    const std::string bytes = backup();
    ASSERT_TRUE(store_->erase_prefix("/catalog/"));
    ASSERT_TRUE(store_->erase_prefix("/templates/"));
    put("/users/admin", "changed after the backup");

    auto report = restore_backup(*store_, catalog_spec(), bytes, true);
    ASSERT_TRUE(report) << report.error().desc;
    EXPECT_EQ(report->total, 7u);
    EXPECT_EQ(report->apply, 7u);
    EXPECT_TRUE(report->skip.empty());
    Listing after = dump(*store_);
    Listing expected = before;
    for (auto& [key, value] : expected) {
        if (key == "/users/admin") value = "changed after the backup";
    }
    EXPECT_EQ(after, expected);
}

TEST_F(BackupTest, WritesManifestFirstThenKeysSortedAsPlainFiles) {
    const auto seen = read_members(backup());
    std::vector<std::string> names;
    for (const Seen& s : seen) names.push_back(s.name);
    EXPECT_THAT(names, ElementsAre("manifest.json", "catalog/empty", "catalog/gold/x86_64/debian12",
                                   "catalog/hosts/kvm1", "catalog/iso/debian12", "catalog/中文键",
                                   "templates/device/disk.file", "templates/domain/big"));
    for (const Seen& s : seen) {
        EXPECT_EQ(s.mode, AE_IFREG | 0644) << s.name;
        EXPECT_EQ(s.uid, 0) << s.name;
        EXPECT_EQ(s.gid, 0) << s.name;
        EXPECT_EQ(s.mtime, 1714564800) << s.name;
    }
    const auto m = nlohmann::json::parse(seen.front().data);
    EXPECT_EQ(m["format"], "kvmhub-backup");
    EXPECT_EQ(m["version"], 1);
    EXPECT_EQ(m["created"], "2024-05-01T12:00:00Z");
    EXPECT_EQ(m["kvmhub"], KVMHUB_VERSION);
    EXPECT_EQ(m["keys"], 7);
    EXPECT_EQ(m["prefixes"], nlohmann::json::array({"/catalog/", "/templates/"}));
}

TEST_F(BackupTest, MergeKeepsKeysTheBackupLacksAndOverwritesTheOthers) {
    const std::string bytes = backup();
    put("/catalog/iso/added-later", "{}");
    put("/catalog/iso/debian12", "edited");
    ASSERT_TRUE(restore_backup(*store_, catalog_spec(), bytes, false));
    EXPECT_EQ((*store_->get("/catalog/iso/added-later"))->value, "{}");
    EXPECT_EQ((*store_->get("/catalog/iso/debian12"))->value,
              R"({"name":"debian12","uri":"http://mirror/debian.iso"})");
}

TEST_F(BackupTest, ReplaceDeletesKeysTheBackupLacks) {
    const std::string bytes = backup();
    put("/catalog/iso/added-later", "{}");
    ASSERT_TRUE(restore_backup(*store_, catalog_spec(), bytes, true));
    EXPECT_FALSE(*store_->get("/catalog/iso/added-later"));
    EXPECT_TRUE(*store_->get("/users/admin"));
}

TEST_F(BackupTest, ReportsMembersOutsideThePrefixesAsSkippedAndAppliesTheRest) {
    const std::string bytes = craft({{"manifest.json", manifest(5)},
                                     {"catalog/iso/a", "{}"},
                                     {"etc/passwd", "root:x:0:0"},
                                     {"secrets/jwt", "stolen"},
                                     {"users/admin", "new hash"},
                                     {"catalog", "not under /catalog/"},
                                     {"templates", "", AE_IFDIR}});
    auto report = restore_backup(*store_, catalog_spec(), bytes, false);
    ASSERT_TRUE(report) << report.error().desc;
    EXPECT_EQ(report->total, 5u);
    EXPECT_EQ(report->apply, 1u);
    EXPECT_THAT(report->skip, ElementsAre("etc/passwd: unknown member", "secrets/jwt: unknown member",
                                          "users/admin: unknown member", "catalog: unknown member"));
    EXPECT_EQ((*store_->get("/users/admin"))->value, "argon2id-hash");
    EXPECT_EQ((*store_->get("/secrets/jwt"))->value, "secret");
    EXPECT_FALSE(*store_->get("/etc/passwd"));
    EXPECT_EQ((*store_->get("/catalog/iso/a"))->value, "{}");
}

TEST_F(BackupTest, RefusesToBackUpAKeyThatCouldNotBeRestored) {
    put("/catalog/iso/..", "x");
    auto made = make_backup(*store_, catalog_spec(), clock_);
    ASSERT_FALSE(made);
    EXPECT_EQ(made.error().code, Errc::Internal);
    EXPECT_EQ(made.error().where, "/catalog/iso/..");
}

TEST_F(BackupTest, RefusesToBackUpMoreThanRestoreAccepts) {
    BackupSpec spec = catalog_spec();
    spec.max_member_bytes = 1000;
    auto made = make_backup(*store_, spec, clock_);
    ASSERT_FALSE(made);
    EXPECT_EQ(made.error().code, Errc::TooLarge);
}

struct Hostile {
    std::string label;
    std::string bytes;
    Errc code;
    std::string message;  // a part of the error's desc
    std::size_t max_members = 100000;
    std::size_t max_total = 64 << 20;
};

std::vector<Hostile> hostile_archives(const std::string& valid) {
    const std::string m1 = manifest(1);
    const std::string m2 = manifest(2);
    return {
        {"garbage", "\x13\x37 this is not an archive at all, just bytes", Errc::BadInput, "not a kvmhub backup"},
        {"empty body", "", Errc::BadInput, "not a kvmhub backup"},
        {"truncated", valid.substr(0, valid.size() / 2), Errc::BadInput, "not a kvmhub backup"},
        {"tar without gzip", craft({{"manifest.json", m1}, {"catalog/a", "{}"}}, false), Errc::BadInput,
         "not a kvmhub backup: not a single gzip-compressed tar"},
        {"gzip of a non-tar", gzip_of(std::string(2000, 'z')), Errc::BadInput, "not a kvmhub backup"},
        {"no manifest", craft({{"catalog/a", "{}"}}), Errc::BadInput, "manifest.json: missing"},
        {"manifest not first", craft({{"catalog/a", "{}"}, {"manifest.json", m1}}), Errc::BadInput, "manifest.json"},
        {"manifest not json", craft({{"manifest.json", "{nope"}}), Errc::BadInput, "manifest.json: not a JSON object"},
        {"foreign format", craft({{"manifest.json", R"({"format":"tarball","version":1,"keys":0})"}}), Errc::BadInput,
         "manifest.json: format"},
        {"version 99", craft({{"manifest.json", manifest(0, 99)}}), Errc::BadInput,
         "manifest.json: version 99 is newer"},
        {"key count mismatch", craft({{"manifest.json", m2}, {"catalog/a", "{}"}}), Errc::BadInput,
         "lists 2 keys, the archive holds 1"},
        {"symlink", craft({{"manifest.json", m1}, {"catalog/link", "", AE_IFLNK, "", "/etc/passwd"}}), Errc::BadInput,
         "catalog/link: symbolic link"},
        {"hardlink", craft({{"manifest.json", m2}, {"catalog/a", "{}"}, {"catalog/h", "", AE_IFREG, "catalog/a"}}),
         Errc::BadInput, "catalog/h: hard link"},
        {"device", craft({{"manifest.json", m1}, {"catalog/dev", "", AE_IFCHR}}), Errc::BadInput,
         "catalog/dev: device"},
        {"fifo", craft({{"manifest.json", m1}, {"catalog/fifo", "", AE_IFIFO}}), Errc::BadInput, "catalog/fifo: fifo"},
        {"dot-dot", craft({{"manifest.json", m1}, {"../x", "{}"}}), Errc::BadInput, "../x: '..' path component"},
        {"dot-dot inside", craft({{"manifest.json", m1}, {"catalog/../../etc/x", "{}"}}), Errc::BadInput, "'..'"},
        {"dot-dot directory", craft({{"manifest.json", m1}, {"catalog/../", "", AE_IFDIR}, {"catalog/a", "{}"}}),
         Errc::BadInput, "'..'"},
        {"absolute", craft({{"manifest.json", m1}, {"/etc/passwd", "root"}}), Errc::BadInput,
         "/etc/passwd: absolute path"},
        {"empty component", craft({{"manifest.json", m1}, {"catalog//a", "{}"}}), Errc::BadInput,
         "empty path component"},
        {"backslash", craft({{"manifest.json", m1}, {"catalog\\..\\x", "{}"}}), Errc::BadInput, "backslash"},
        {"duplicate", craft({{"manifest.json", m2}, {"catalog/a", "{}"}, {"catalog/a", "[]"}}), Errc::BadInput,
         "catalog/a: duplicate member"},
        {"second manifest", craft({{"manifest.json", m1}, {"manifest.json", m1}}), Errc::BadInput, "duplicate"},
        {"validate refuses", craft({{"manifest.json", m2}, {"catalog/a", "{}"}, {"templates/bad", "refuse me"}}),
         Errc::BadInput, "templates/bad: not a valid template"},
        {"100 MB member", craft({{"manifest.json", m1}, {"catalog/huge", "", AE_IFREG, "", "", 100u << 20}}),
         Errc::TooLarge, "catalog/huge: larger than 1048576 bytes"},
        {"huge manifest", craft({{"manifest.json", "", AE_IFREG, "", "", 1u << 20}}), Errc::TooLarge, "manifest.json"},
        {"too many members", craft({{"manifest.json", m2}, {"catalog/a", "{}"}, {"catalog/b", "{}"}}), Errc::TooLarge,
         "more than 1 members", 1},
        {"too many bytes", craft({{"manifest.json", m2}, {"catalog/a", std::string(600, 'a')}, {"catalog/b", "{}"}}),
         Errc::TooLarge, "backup larger than", 100000, 600},
    };
}

TEST_F(BackupTest, RejectsHostileOrBrokenArchivesAndChangesNothing) {
    const std::string valid = backup();
    put("/catalog/iso/added-later", "{}");
    const Listing before = dump(*store_);
    for (const Hostile& h : hostile_archives(valid)) {
        BackupSpec spec = catalog_spec();
        spec.max_members = h.max_members;
        spec.max_total_bytes = h.max_total;
        auto report = restore_backup(*store_, spec, h.bytes, true);
        ASSERT_FALSE(report) << h.label;
        EXPECT_EQ(report.error().code, h.code) << h.label << ": " << report.error().desc;
        EXPECT_THAT(report.error().desc, HasSubstr(h.message)) << h.label;
        EXPECT_EQ(dump(*store_), before) << h.label;
    }
}

long peak_rss_kib() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_maxrss;
}

TEST_F(BackupTest, RefusesAHundredMegabyteMemberWithoutHoldingItInMemory) {
    // 100 MiB of zeros compresses to about 100 KB: small on the wire, huge once unpacked.
    const std::string bomb =
        craft({{"manifest.json", manifest(1)}, {"catalog/huge", "", AE_IFREG, "", "", std::size_t{100} << 20}});
    ASSERT_LT(bomb.size(), 1u << 20);
    const long before = peak_rss_kib();
    auto report = restore_backup(*store_, catalog_spec(), bomb, true);
    ASSERT_FALSE(report);
    EXPECT_EQ(report.error().code, Errc::TooLarge);
    EXPECT_EQ(report.error().where, "catalog/huge");
    EXPECT_LT(peak_rss_kib() - before, 50 * 1024);
}

TEST_F(BackupTest, IgnoresDirectoryEntries) {
    const std::string bytes = craft({{"manifest.json", manifest(1)},
                                     {"catalog/", "", AE_IFDIR},
                                     {"catalog/iso/", "", AE_IFDIR},
                                     {"catalog/iso/a", "{}"}});
    auto report = restore_backup(*store_, catalog_spec(), bytes, false);
    ASSERT_TRUE(report) << report.error().desc;
    EXPECT_EQ(report->total, 1u);
    EXPECT_EQ(report->apply, 1u);
}

// A simplekvm /conf/backup/ archive (tar of its DATA_DIR): templates, actions beside them, tables.
TEST_F(BackupTest, RestoresASimplekvmBackupWithItsActions) {
    const std::string hosts =
        R"([{"name":"kvm1","tpl":"domain","url":"qemu+ssh://root@10.0.0.1:60022/system","arch":"x86_64",)"
        R"("ipaddr":"10.0.0.1","sshport":60022,"sshuser":"root"}])";
    const std::string bytes = craft({
        {"./", "", AE_IFDIR},
        {"./devices/", "", AE_IFDIR},
        {"./devices/disk.file.tpl", "<disk type='file'/>\n"},
        {"./devices/disk.file.action", "#!/bin/bash\nqemu-img create \"$X\"\n"},
        {"./domains/domain.tpl", "<domain/>\n"},
        {"./meta/user-data.tpl", "#cloud-config\n"},
        {"./cidata/6f1c/cidata.iso", "iso bytes"},
        {"./hosts.json", hosts},
        {"./devices.json", R"([{"kvmhost":"kvm1","name":"disk.file","tpl":"disk.file","desc":"local disk"}])"},
        {"./golds.json",
         R"([{"name":"","arch":"x86_64","uri":"","size":1,"desc":"data disk"},)"
         R"({"name":"bookworm","arch":"x86_64","uri":"/gold/bookworm.qcow2","size":2147483648,"desc":"d"}])"},
        {"./iso.json",
         R"([{"name":"","uri":"","desc":"MetaData ISO"},{"name":"d12","uri":"/iso/d12.iso","desc":"x"}])"},
        {"./vars.json", R"([{"vm_ram_mb":"memory MiB"},{"vm_vcpus":"vCPUs"}])"},
        {"./notes.txt", "not configuration"},
    });
    auto report = restore_backup(*store_, catalog_spec(), bytes, true);
    ASSERT_TRUE(report) << report.error().desc;
    EXPECT_EQ(report->total, 11u);
    EXPECT_EQ(report->apply, 9u);
    EXPECT_EQ(report->skip.size(), 4u);  // cidata, the blank gold and ISO, notes.txt
    const Listing templates = dump(*store_, "/templates/");
    EXPECT_EQ(templates, (Listing{{"/templates/action/disk.file", "#!/bin/bash\nqemu-img create \"$X\"\n"},
                                  {"/templates/device/disk.file", "<disk type='file'/>\n"},
                                  {"/templates/domain/domain", "<domain/>\n"},
                                  {"/templates/meta/user-data", "#cloud-config\n"}}));
    EXPECT_EQ(nlohmann::json::parse(dump(*store_, "/catalog/hosts/")[0].second)["sshport"], 60022);
    EXPECT_EQ(dump(*store_, "/catalog/hosts/")[0].first, "/catalog/hosts/kvm1");
    EXPECT_EQ(dump(*store_, "/catalog/devices/")[0].first, "/catalog/devices/kvm1/disk.file");
    EXPECT_EQ(dump(*store_, "/catalog/golds/").size(), 1u);
    EXPECT_EQ(dump(*store_, "/catalog/golds/")[0].first, "/catalog/golds/x86_64/bookworm");
    EXPECT_EQ(dump(*store_, "/catalog/isos/")[0].first, "/catalog/isos/d12");
    EXPECT_EQ(nlohmann::json::parse(dump(*store_, "/catalog/vars")[0].second),
              (nlohmann::json{{"vm_ram_mb", "memory MiB"}, {"vm_vcpus", "vCPUs"}}));
    EXPECT_EQ(dump(*store_, "/users/"), (Listing{{"/users/admin", "argon2id-hash"}})) << "outside the prefixes";

    // A broken table refuses the whole archive, and nothing changes.
    const Listing before = dump(*store_);
    auto broken =
        restore_backup(*store_, catalog_spec(), craft({{"devices/disk.x.action", "echo"}, {"hosts.json", "{"}}), true);
    ASSERT_FALSE(broken);
    EXPECT_EQ(broken.error().code, Errc::BadInput);
    EXPECT_THAT(broken.error().desc, HasSubstr("hosts.json: not a JSON list"));
    EXPECT_EQ(dump(*store_), before);
}

}  // namespace
}  // namespace kvmhub::catalog
