// Checks that an image URI answers and how big it is, before the catalog accepts it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "common/result.hpp"

namespace kvmhub::catalog {

class UrlProbe {
public:
    virtual ~UrlProbe() = default;
    // The size of the resource at an http(s) URL (HEAD, redirects followed); errors name `field`.
    virtual Result<std::uint64_t> content_length(const std::string& url, const std::string& field) = 0;
};

// libcurl: HEAD with at most 5 redirects, http and https only, a total timeout.
class CurlUrlProbe final : public UrlProbe {
public:
    explicit CurlUrlProbe(std::chrono::seconds timeout = std::chrono::seconds(10)) : timeout_(timeout) {}
    Result<std::uint64_t> content_length(const std::string& url, const std::string& field) override;

private:
    std::chrono::seconds timeout_;
};

}  // namespace kvmhub::catalog
