// libFuzzer target: tenant-token parsing and link verification on arbitrary bytes.
// The input is tried two ways: as a ctrl_url token (decode_token), and as the parts a tenant
// request carries (host, uuid, k, e, l separated by newlines) handed to LinkService::verify.
// Neither may crash; a decoded token must encode back to the same bytes; and no input but the
// one real link may ever verify.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/links.hpp"
#include "common/clock.hpp"
#include "store/sqlite_store.hpp"

namespace {

struct Fixture {
    kvmhub::SystemClock clock;
    std::unique_ptr<kvmhub::store::SqliteStore> store;
    std::unique_ptr<kvmhub::auth::LinkService> links;
    kvmhub::auth::IssuedLink real;

    Fixture() {
        auto opened = kvmhub::store::SqliteStore::open(":memory:", clock);
        if (!opened) std::abort();
        store = std::move(*opened);
        links = std::make_unique<kvmhub::auth::LinkService>(*store, clock, std::chrono::hours(24),
                                                            std::chrono::hours(24 * 366));
        auto issued =
            links->create("h1", "0b5e1c5a-8f55-4d7e-9d56-0c2a1f3c9e01", clock.now_seconds() + 86400 * 300, "fuzz");
        if (!issued) std::abort();
        real = std::move(*issued);
    }
};

Fixture& fixture() {
    static Fixture f;
    return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Fixture& f = fixture();
    const std::string_view input(reinterpret_cast<const char*>(data), size);

    if (auto token = kvmhub::auth::decode_token(input)) {
        if (kvmhub::auth::encode_token(*token) != input) __builtin_trap();
        auto link = f.links->verify(token->host, token->uuid, token->k, token->e, token->l);
        if (link && input != f.real.token) __builtin_trap();
    }

    std::vector<std::string_view> parts;
    std::string_view rest = input;
    while (parts.size() < 4) {
        const auto newline = rest.find('\n');
        if (newline == std::string_view::npos) break;
        parts.push_back(rest.substr(0, newline));
        rest.remove_prefix(newline + 1);
    }
    parts.push_back(rest);
    parts.resize(5);
    auto link = f.links->verify(parts[0], parts[1], parts[2], parts[3], parts[4]);
    if (link && (parts[2] != f.real.signature || parts[4] != f.real.link.id)) __builtin_trap();
    return 0;
}
