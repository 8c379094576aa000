#include "catalog/bootstrap.hpp"

#include <gtest/gtest.h>

#include "catalog/shipped.hpp"
#include "support/stores.hpp"

namespace kvmhub::catalog {
namespace {

class Bootstrap : public ::testing::Test {
protected:
    std::unique_ptr<store::Store> store_ = test::open_memory_store();
    Config config_;
    CurlUrlProbe probe_;
    Catalog catalog_{*store_, config_, probe_};

    BootstrapReport run(bool demo, bool libvirt_answers = false) {
        auto report = bootstrap_catalog(*store_, catalog_, demo, [&](const std::string&) { return libvirt_answers; });
        EXPECT_TRUE(report.has_value()) << report.error().desc;
        return report.value_or(BootstrapReport{});
    }
};

TEST_F(Bootstrap, InstallsEveryShippedTemplateOnce) {
    auto first = run(false);
    EXPECT_EQ(first.templates_installed.size(), shipped_templates().size());
    for (const auto& t : shipped_templates()) {
        auto kind = parse_kind(t.kind);
        ASSERT_TRUE(kind);
        auto source = catalog_.template_source(*kind, std::string(t.name));
        ASSERT_TRUE(source) << t.name;
        EXPECT_EQ(*source, t.source);
        // Every shipped template parses and has a description.
        auto parsed = catalog_.parsed_template(*kind, std::string(t.name));
        ASSERT_TRUE(parsed) << parsed.error().desc;
        EXPECT_FALSE((*parsed)->description().empty()) << t.name;
    }
    EXPECT_TRUE(run(false).templates_installed.empty());
}

TEST_F(Bootstrap, NeverOverwritesAnEditedTemplateNorRevivesADeletedOne) {
    run(false);
    ASSERT_TRUE(catalog_.put_template(TemplateKind::Meta, "meta-data", "instance-id: {{ vm_uuid }}"));
    ASSERT_TRUE(catalog_.delete_template(TemplateKind::Device, "disk.rbd"));
    run(false);
    EXPECT_EQ(*catalog_.template_source(TemplateKind::Meta, "meta-data"), "instance-id: {{ vm_uuid }}");
    EXPECT_EQ(catalog_.template_source(TemplateKind::Device, "disk.rbd").error().code, Errc::NotFound);
}

TEST_F(Bootstrap, AddsNewVariableDescriptionsButKeepsEditedOnes) {
    ASSERT_TRUE(store_->put("/catalog/vars", R"({"vm_name":"my own words"})"));
    run(false);
    auto table = catalog_.variables_table();
    ASSERT_TRUE(table);
    EXPECT_EQ((*table)["vm_name"], "my own words");
    EXPECT_TRUE(table->contains("vm_ram_mb"));
}

TEST_F(Bootstrap, RegistersTheDemoHostWithTheShippedDevices) {
    auto report = run(true);
    EXPECT_EQ(report.hosts_added, std::vector<std::string>{"demo"});
    auto demo = catalog_.host("demo");
    ASSERT_TRUE(demo);
    EXPECT_EQ((*demo)["url"], "test:///default");
    auto devices = catalog_.devices("demo");
    ASSERT_TRUE(devices);
    EXPECT_EQ(devices->size(), 6u);
}

TEST_F(Bootstrap, AddsTheLocalHostOnlyWhenLibvirtAnswers) {
    run(true, true);
    auto local = catalog_.host("local");
    ASSERT_TRUE(local);
    EXPECT_EQ((*local)["url"], "qemu:///system");
}

TEST_F(Bootstrap, ADeletedDemoHostStaysDeleted) {
    run(true);
    ASSERT_TRUE(catalog_.delete_host("demo"));
    EXPECT_TRUE(run(true).hosts_added.empty());
    EXPECT_EQ(catalog_.host("demo").error().code, Errc::NotFound);
}

TEST_F(Bootstrap, DemoCanBeSwitchedOff) {
    EXPECT_TRUE(run(false).hosts_added.empty());
    auto hosts = catalog_.hosts();
    ASSERT_TRUE(hosts);
    EXPECT_TRUE(hosts->empty());
}

}  // namespace
}  // namespace kvmhub::catalog
