// libFuzzer target: parse_multipart on arbitrary bytes. The input's first line (up to 256 bytes)
// is the Content-Type value, so the fuzzer explores boundaries as well as bodies.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/multipart.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const std::size_t newline = input.substr(0, 256).find('\n');
    std::string_view type = "multipart/form-data; boundary=b";
    std::string_view body = input;
    if (newline != std::string_view::npos) {
        type = input.substr(0, newline);
        body = input.substr(newline + 1);
    }
    auto parts = kvmhub::http::parse_multipart(type, body);
    if (parts) {
        // Every part's data must lie within the body it was cut from.
        std::size_t total = 0;
        for (const auto& part : *parts) total += part.data.size();
        if (total > body.size()) __builtin_trap();
        (void)kvmhub::http::find_part(*parts, "file");
    }
    return 0;
}
