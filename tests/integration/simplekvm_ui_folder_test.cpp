// An unmodified simplekvm admin UI served from a folder (console.simplekvm_ui_dir) at /ui/,
// where its pages expect to be, on kvmhubd's own origin; kvmhub's own pages are at /kvmhub/.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "support/daemon.hpp"
#include "support/http_client.hpp"
#include "support/temp_dir.hpp"

namespace kvmhub::test {
namespace {

void write_file(const std::string& path, const std::string& text) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path) << text;
}

TEST(SimplekvmUiFolder, ItsPagesAreServedAtUiBesideKvmhubsOwnAndOnlyWhenConfigured) {
    TempDir dir;
    // Stand-ins with the folder's layout (tpl.html, login.html, js/, css/), written here.
    const std::string page = "<html><script>var inline = 1;</script><body>tpl</body></html>";
    write_file(dir.file("ui/tpl.html"), page);
    write_file(dir.file("ui/js/ui.js"), "function go() {}\n");
    write_file(dir.file("ui/css/ui.css"), "body {}\n");
    write_file(dir.file("outside.txt"), "secret");
    Daemon d({.env = {{"KVMHUB_SIMPLEKVM_UI_DIR", dir.file("ui")}}});

    auto tpl = http_get(d.url() + "/ui/tpl.html");
    ASSERT_EQ(tpl.status, 200) << tpl.body;
    EXPECT_EQ(tpl.body, page);
    EXPECT_TRUE(tpl.header("content-security-policy").empty())
        << "kvmhub's strict policy would block its inline scripts: " << tpl.header("content-security-policy");
    EXPECT_EQ(tpl.header("x-frame-options"), "DENY");
    auto js = http_get(d.url() + "/ui/js/ui.js");
    EXPECT_EQ(js.status, 200);
    EXPECT_EQ(js.header("content-type"), "text/javascript; charset=utf-8");
    EXPECT_EQ(http_get(d.url() + "/ui/css/ui.css").status, 200);
    for (const char* path : {"/ui/%2e%2e/outside.txt", "/ui/nothing.html", "/ui/"})
        EXPECT_EQ(http_get(d.url() + path).status, 404) << path;

    auto own = http_get(d.url() + "/kvmhub/console.html");
    EXPECT_EQ(own.status, 200) << "kvmhub's pages do not collide with simplekvm's";
    EXPECT_FALSE(own.header("content-security-policy").empty()) << "and keep their policy";

    Daemon plain;
    EXPECT_EQ(http_get(plain.url() + "/ui/tpl.html").status, 404) << "no folder configured: nothing at /ui/";
}

}  // namespace
}  // namespace kvmhub::test
