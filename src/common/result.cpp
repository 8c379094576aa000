#include "common/result.hpp"

namespace kvmhub {

const char* errc_name(Errc code) noexcept {
    switch (code) {
        case Errc::BadInput:
            return "bad_input";
        case Errc::Unauthorized:
            return "unauthorized";
        case Errc::Forbidden:
            return "forbidden";
        case Errc::NotFound:
            return "not_found";
        case Errc::Conflict:
            return "conflict";
        case Errc::Gone:
            return "gone";
        case Errc::TooLarge:
            return "too_large";
        case Errc::Throttled:
            return "throttled";
        case Errc::HostError:
            return "host_error";
        case Errc::HostUnavailable:
            return "host_unavailable";
        case Errc::HostTimeout:
            return "host_timeout";
        case Errc::Internal:
            return "internal";
    }
    return "internal";
}

}  // namespace kvmhub
