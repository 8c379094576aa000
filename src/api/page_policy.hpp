// The security headers of the HTML pages kvmhubd serves (its own, and Debian's noVNC and
// spice-html5 pages): a Content-Security-Policy that allows scripts and styles from kvmhub's
// own origin and, for a page that has inline ones (noVNC's vnc_lite.html, spice-html5's
// onclick handlers), exactly those by their sha256 hashes, never 'unsafe-inline' or eval; no
// framing by other sites; no referrer (tenant links are capabilities in the URL).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kvmhub::api {

// The Content-Security-Policy for this page's HTML.
std::string page_csp(std::string_view html);

// Every header a page gets: the CSP, X-Frame-Options, Referrer-Policy.
std::vector<std::pair<std::string, std::string>> page_headers(std::string_view html);

}  // namespace kvmhub::api
