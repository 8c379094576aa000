// Errors as values: one Errc for every layer, one Error shape, Result<T> = tl::expected.
#pragma once

#include <string>
#include <utility>

#include <tl/expected.hpp>

namespace kvmhub {

// What went wrong, in terms a caller can act on. The HTTP layer maps each to one status.
enum class Errc {
    BadInput,         // 400: the caller sent something invalid
    Unauthorized,     // 401: no, malformed or expired credentials
    Forbidden,        // 403: valid credentials, not allowed
    NotFound,         // 404: unknown item
    Conflict,         // 409: exists already, busy, revision mismatch
    Gone,             // 410: expired link
    TooLarge,         // 413: body or member over a cap
    Throttled,        // 429: too many attempts, retry later
    HostError,        // 502: the hypervisor answered with an error
    HostUnavailable,  // 503: the hypervisor cannot be reached
    HostTimeout,      // 504: the hypervisor did not answer in time
    Internal,         // 500: a bug or a broken environment
};

struct Error {
    Errc code = Errc::Internal;
    std::string where;  // the field, parameter or component at fault
    std::string desc;   // what went wrong and how to fix it, for a person
    int legacy = 0;     // simplekvm's numeric code, 0 = derive from `code`
};

template <typename T>
using Result = tl::expected<T, Error>;

using Status = Result<void>;

inline tl::unexpected<Error> fail(Errc code, std::string where, std::string desc, int legacy = 0) {
    return tl::unexpected<Error>(Error{code, std::move(where), std::move(desc), legacy});
}

// Short stable name of an Errc for logs and metrics.
const char* errc_name(Errc code) noexcept;

}  // namespace kvmhub
