// The metadata service serves seeds from memory: these tests show that what it serves is never
// older than the store once a change is committed, whoever committed it.
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "catalog/catalog.hpp"
#include "cloudinit/iso.hpp"
#include "cloudinit/seed.hpp"
#include "support/stores.hpp"

namespace kvmhub::cloudinit {
namespace {

constexpr const char* kUuid = "5b7c3c5e-8f0e-4a8e-9d43-0b8c1f1f2a10";

class SeedCache : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(catalog_.put_template(catalog::TemplateKind::Meta, "meta-data",
                                          "instance-id: {{ vm_uuid }}\nlocal-hostname: {{ vm_name }}\n"));
    }

    void render(const std::string& name) {
        auto done = seeds_.render("h1", kUuid, nlohmann::json{{"vm_uuid", kUuid}, {"vm_name", name}});
        ASSERT_TRUE(done) << done.error().desc;
    }

    std::string meta_data() {
        auto seed = seeds_.seed(kUuid);
        if (!seed) return "error: " + seed.error().desc;
        return (*seed)->files().files.at("meta-data");
    }

    std::unique_ptr<store::Store> store_ = test::open_memory_store();
    Config config_;
    catalog::CurlUrlProbe probe_;
    catalog::Catalog catalog_{*store_, config_, probe_};
    SeedService seeds_{*store_, catalog_};
};

TEST_F(SeedCache, ServesTheSameSeedFromMemoryUntilItChanges) {
    render("web-01");
    // One load, shared. The render's own watch event may still be on its way and make one
    // load not be kept; after it, two fetches get the same seed.
    auto first = seeds_.seed(kUuid);
    auto second = seeds_.seed(kUuid);
    for (int i = 0; i < 100 && first && second && first->get() != second->get(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        first = seeds_.seed(kUuid);
        second = seeds_.seed(kUuid);
    }
    ASSERT_TRUE(first && second);
    EXPECT_EQ(first->get(), second->get());
    EXPECT_EQ((*first)->files().files.at("meta-data"),
              std::string("instance-id: ") + kUuid + "\nlocal-hostname: web-01");
}

TEST_F(SeedCache, ARenderIsServedAsSoonAsItReturns) {
    render("web-01");
    EXPECT_NE(meta_data().find("web-01"), std::string::npos);
    for (int i = 0; i < 50; ++i) {  // no wait for the watch: render drops the old seed itself
        const std::string name = "web-" + std::to_string(100 + i);
        render(name);
        ASSERT_NE(meta_data().find(name), std::string::npos) << meta_data();
    }
}

TEST_F(SeedCache, AChangeCommittedElsewhereReachesTheServedSeed) {
    render("web-01");
    ASSERT_NE(meta_data().find("web-01"), std::string::npos);
    // Another daemon on the same store (or an admin's restore) writes the key, not this service.
    ASSERT_TRUE(store_->put(std::string(kMetaPrefix) + kUuid + "/files/meta-data", "instance-id: changed\n"));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (meta_data() != "instance-id: changed\n" && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_EQ(meta_data(), "instance-id: changed\n");
}

TEST_F(SeedCache, AForgottenSeedIsGoneAtOnce) {
    render("web-01");
    ASSERT_TRUE(seeds_.seed(kUuid));
    ASSERT_TRUE(seeds_.forget(kUuid));
    auto gone = seeds_.seed(kUuid);
    ASSERT_FALSE(gone);
    EXPECT_EQ(gone.error().code, Errc::NotFound);
}

TEST_F(SeedCache, TheIsoIsBuiltOnceFromTheServedFiles) {
    render("web-01");
    auto seed = seeds_.seed(kUuid);
    ASSERT_TRUE(seed);
    const auto& iso = (*seed)->iso();
    ASSERT_TRUE(iso) << iso.error().desc;
    EXPECT_EQ(&*iso, &*(*seed)->iso());
    auto fresh = build_cidata_iso((*seed)->files().files);
    ASSERT_TRUE(fresh);
    EXPECT_EQ(*iso, *fresh);
    render("web-02");  // a new render is a new seed with its own image
    auto next = seeds_.seed(kUuid);
    ASSERT_TRUE(next);
    EXPECT_NE((*next)->files().revision, (*seed)->files().revision);
    EXPECT_NE(*(*next)->iso(), *iso);
}

TEST_F(SeedCache, AnUnknownOrBadUuidIsRefused) {
    EXPECT_EQ(seeds_.seed(kUuid).error().code, Errc::NotFound);
    EXPECT_EQ(seeds_.seed("../etc").error().code, Errc::BadInput);
}

}  // namespace
}  // namespace kvmhub::cloudinit
