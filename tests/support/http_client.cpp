#include "support/http_client.hpp"

#include <algorithm>
#include <mutex>

#include <curl/curl.h>

#include "common/cfree.hpp"

namespace kvmhub::test {
namespace {

size_t append_body(char* data, size_t size, size_t count, void* out) {
    static_cast<std::string*>(out)->append(data, size * count);
    return size * count;
}

size_t append_header(char* data, size_t size, size_t count, void* out) {
    std::string line(data, size * count);
    auto colon = line.find(':');
    if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
        std::string value = line.substr(colon + 1);
        value.erase(0, value.find_first_not_of(" \t"));
        value.erase(value.find_last_not_of(" \t\r\n") + 1);
        static_cast<std::multimap<std::string, std::string>*>(out)->emplace(name, value);
    }
    return size * count;
}

}  // namespace

nlohmann::json HttpResponse::json() const {
    return nlohmann::json::parse(body, nullptr, false);
}

std::string HttpResponse::header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
}

namespace {

// Runs a prepared handle with the common options; `configure` adds the method and body.
template <typename Configure>
HttpResponse perform(const std::string& url, const HttpOptions& options, Configure configure) {
    static std::once_flag init;
    std::call_once(init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    HttpResponse response;
    CPtr<CURL, curl_easy_cleanup> curl(curl_easy_init());
    CPtr<curl_slist, curl_slist_free_all> headers;
    for (const auto& h : options.headers) headers.reset(curl_slist_append(headers.release(), h.c_str()));
    // No "Expect: 100-continue" unless a test asks for it.
    headers.reset(curl_slist_append(headers.release(), "Expect:"));
    curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
    configure(curl.get());
    curl_easy_setopt(curl.get(), CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, append_body);
    curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &response.body);
    curl_easy_setopt(curl.get(), CURLOPT_HEADERFUNCTION, append_header);
    curl_easy_setopt(curl.get(), CURLOPT_HEADERDATA, &response.headers);
    curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT, options.timeout_seconds);
    curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
    if (!options.ca_file.empty()) curl_easy_setopt(curl.get(), CURLOPT_CAINFO, options.ca_file.c_str());
    CURLcode rc = curl_easy_perform(curl.get());
    if (rc != CURLE_OK) {
        response.error = curl_easy_strerror(rc);
        return response;
    }
    curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &response.status);
    return response;
}

}  // namespace

HttpResponse http_request(const std::string& method, const std::string& url, const std::string& body,
                          const HttpOptions& options) {
    return perform(url, options, [&](CURL* curl) {
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
        if (method == "HEAD") curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
        if (!body.empty() || method == "POST" || method == "PUT") {
            curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
            curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
        }
    });
}

HttpResponse http_upload(const std::string& url, const std::string& field, const std::string& filename,
                         const std::string& data, const HttpOptions& options) {
    CPtr<curl_mime, curl_mime_free> mime;
    return perform(url, options, [&](CURL* curl) {
        mime.reset(curl_mime_init(curl));
        curl_mimepart* part = curl_mime_addpart(mime.get());
        curl_mime_name(part, field.c_str());
        curl_mime_filename(part, filename.c_str());
        curl_mime_data(part, data.data(), data.size());
        curl_easy_setopt(curl, CURLOPT_MIMEPOST, mime.get());
    });
}

HttpOptions bearer(const std::string& token) {
    HttpOptions options;
    options.headers.push_back("Authorization: Bearer " + token);
    return options;
}

}  // namespace kvmhub::test
