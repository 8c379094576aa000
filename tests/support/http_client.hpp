// A real HTTP client for tests (libcurl): one call per request, no connection reuse.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kvmhub::test {

struct HttpResponse {
    long status = 0;
    std::string body;
    std::multimap<std::string, std::string> headers;  // names lower-cased
    std::string error;                                // transport error, empty when the request went through

    nlohmann::json json() const;  // parsed body; discarded value when it is not JSON
    std::string header(const std::string& lower_name) const;
};

struct HttpOptions {
    std::vector<std::string> headers;  // "Name: value"
    std::string ca_file;               // for https: trust this CA/cert file
    long timeout_seconds = 60;
};

HttpResponse http_request(const std::string& method, const std::string& url, const std::string& body = {},
                          const HttpOptions& options = {});

inline HttpResponse http_get(const std::string& url, const HttpOptions& options = {}) {
    return http_request("GET", url, {}, options);
}
inline HttpResponse http_post(const std::string& url, const std::string& body, const HttpOptions& options = {}) {
    return http_request("POST", url, body, options);
}

// POST multipart/form-data with one file field (as `curl -F field=@file` sends it).
HttpResponse http_upload(const std::string& url, const std::string& field, const std::string& filename,
                         const std::string& data, const HttpOptions& options = {});

// "Authorization: Bearer <token>" as a header list.
HttpOptions bearer(const std::string& token);

}  // namespace kvmhub::test
