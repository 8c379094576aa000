// multipart/form-data bodies (RFC 7578), as browsers and curl send file uploads. Plain string
// parsing over the whole body, which the server has already read under its size cap.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace kvmhub::http {

struct FormPart {
    std::string name;          // Content-Disposition name
    std::string filename;      // Content-Disposition filename, empty when not a file
    std::string content_type;  // the part's Content-Type as sent, empty when absent
    std::string data;          // the exact bytes between the header block and the next boundary
};

inline constexpr std::size_t kMaxFormParts = 100;
inline constexpr std::size_t kMaxPartHeaderBytes = 8 << 10;

// Splits `body` using the boundary of `content_type_header` (the Content-Type value). Errors:
// BadInput for a missing boundary or a malformed body, TooLarge past kMaxFormParts parts or a
// header block over kMaxPartHeaderBytes.
Result<std::vector<FormPart>> parse_multipart(std::string_view content_type_header, std::string_view body);

// The first part called `name`, or null.
const FormPart* find_part(const std::vector<FormPart>& parts, std::string_view name);

}  // namespace kvmhub::http
