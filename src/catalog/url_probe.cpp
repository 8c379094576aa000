#include "catalog/url_probe.hpp"

#include <mutex>

#include <curl/curl.h>
#include <fmt/format.h>

#include "common/cfree.hpp"

namespace kvmhub::catalog {

Result<std::uint64_t> CurlUrlProbe::content_length(const std::string& url, const std::string& field) {
    static std::once_flag init;
    std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    CPtr<CURL, curl_easy_cleanup> curl(curl_easy_init());
    if (!curl) return fail(Errc::Internal, field, "cannot create an HTTP client");
    curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl.get(), CURLOPT_NOBODY, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(curl.get(), CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl.get(), CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT, static_cast<long>(timeout_.count()));
    curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(curl.get());
    if (rc != CURLE_OK)
        return fail(Errc::BadInput, field, fmt::format("{} is not reachable: {}", url, curl_easy_strerror(rc)));
    long status = 0;
    curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
    if (status != 200)
        return fail(Errc::BadInput, field, fmt::format("HEAD {} answered HTTP {}, expected 200", url, status));
    curl_off_t length = -1;
    curl_easy_getinfo(curl.get(), CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
    if (length < 0)
        return fail(Errc::BadInput, field,
                    fmt::format("HEAD {} did not say how big the file is (no Content-Length)", url));
    return static_cast<std::uint64_t>(length);
}

}  // namespace kvmhub::catalog
