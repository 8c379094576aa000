#include "http/multipart.hpp"

#include <string>

#include <gtest/gtest.h>

namespace kvmhub::http {
namespace {

// What curl 7.88 sends for `curl -F file=@backup.tgz -F replace=true`.
constexpr std::string_view kCurlType = "multipart/form-data; boundary=------------------------d74496d66958873e";
constexpr std::string_view kCurlDelimiter = "--------------------------d74496d66958873e";

std::string curl_body(const std::string& file_data) {
    const std::string d(kCurlDelimiter);
    return d +
           "\r\n"
           "Content-Disposition: form-data; name=\"file\"; filename=\"backup.tgz\"\r\n"
           "Content-Type: application/octet-stream\r\n"
           "\r\n" +
           file_data + "\r\n" + d +
           "\r\n"
           "Content-Disposition: form-data; name=\"replace\"\r\n"
           "\r\n"
           "true\r\n" +
           d + "--\r\n";
}

std::string binary_data() {
    constexpr char kHead[] = "\x1f\x8b\x08\x00\0\0\r\n\r\n--";
    std::string data(kHead, sizeof kHead - 1);
    for (int i = 0; i < 256; ++i) data += static_cast<char>(i);
    // The boundary text inside the data, but never as a delimiter (CRLF, boundary, CRLF or "--").
    data += "\r\n" + std::string(kCurlDelimiter) + "X\r\n\n" + std::string(kCurlDelimiter) + "\r\n\r\n";
    return data;
}

Error parse_error(std::string_view type, std::string_view body) {
    auto parts = parse_multipart(type, body);
    EXPECT_FALSE(parts);
    return parts ? Error{} : parts.error();
}

TEST(Multipart, ParsesACurlUploadWithBinaryData) {
    const std::string data = binary_data();
    auto parts = parse_multipart(kCurlType, curl_body(data));
    ASSERT_TRUE(parts) << parts.error().desc;
    ASSERT_EQ(parts->size(), 2u);
    EXPECT_EQ((*parts)[0].name, "file");
    EXPECT_EQ((*parts)[0].filename, "backup.tgz");
    EXPECT_EQ((*parts)[0].content_type, "application/octet-stream");
    EXPECT_EQ((*parts)[0].data, data);
    EXPECT_EQ((*parts)[1].name, "replace");
    EXPECT_EQ((*parts)[1].filename, "");
    EXPECT_EQ((*parts)[1].content_type, "");
    EXPECT_EQ((*parts)[1].data, "true");
}

TEST(Multipart, FindsPartsByName) {
    auto parts = parse_multipart(kCurlType, curl_body("x"));
    ASSERT_TRUE(parts);
    ASSERT_NE(find_part(*parts, "replace"), nullptr);
    EXPECT_EQ(find_part(*parts, "replace")->data, "true");
    EXPECT_EQ(find_part(*parts, "file")->filename, "backup.tgz");
    EXPECT_EQ(find_part(*parts, "missing"), nullptr);
}

TEST(Multipart, AcceptsAQuotedBoundaryAndAnyCase) {
    const std::string body =
        "--a b:c=d\r\n"
        "content-disposition: Form-Data; NAME=\"f\"\r\n"
        "\r\n"
        "v\r\n"
        "--a b:c=d--";
    auto parts = parse_multipart("Multipart/Form-Data; charset=utf-8; Boundary=\"a b:c=d\"", body);
    ASSERT_TRUE(parts) << parts.error().desc;
    ASSERT_EQ(parts->size(), 1u);
    EXPECT_EQ((*parts)[0].name, "f");
    EXPECT_EQ((*parts)[0].data, "v");
}

TEST(Multipart, IgnoresPreambleEpilogueAndTransportPadding) {
    const std::string body =
        "This is the preamble.\r\n"
        "--xyz  \t\r\n"
        "Content-Disposition: form-data; name=\"a\"\r\n"
        "\r\n"
        "\r\n"
        "--xyz\r\n"
        "Content-Disposition: form-data; name=\"b\"\r\n"
        "\r\n"
        "two\r\nlines\r\n"
        "--xyz--\r\n"
        "This is the epilogue.\r\n--xyz\r\nnot a part";
    auto parts = parse_multipart("multipart/form-data; boundary=xyz", body);
    ASSERT_TRUE(parts) << parts.error().desc;
    ASSERT_EQ(parts->size(), 2u);
    EXPECT_EQ((*parts)[0].data, "");
    EXPECT_EQ((*parts)[1].data, "two\r\nlines");
}

TEST(Multipart, UnescapesQuotedParameters) {
    const std::string body =
        "--b\r\n"
        "Content-Disposition: form-data; name=\"semi;colon\"; filename=\"a \\\"quoted\\\" C:\\dir\\x.tgz\"\r\n"
        "\r\n"
        "d\r\n"
        "--b--";
    auto parts = parse_multipart("multipart/form-data; boundary=b", body);
    ASSERT_TRUE(parts) << parts.error().desc;
    EXPECT_EQ((*parts)[0].name, "semi;colon");
    EXPECT_EQ((*parts)[0].filename, "a \"quoted\" C:\\dir\\x.tgz");
}

TEST(Multipart, AcceptsAPartWithHeadersAndNoBody) {
    auto parts = parse_multipart("multipart/form-data; boundary=b",
                                 "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n--b--");
    ASSERT_TRUE(parts) << parts.error().desc;
    ASSERT_EQ(parts->size(), 1u);
    EXPECT_EQ((*parts)[0].name, "a");
    EXPECT_EQ((*parts)[0].data, "");
}

TEST(Multipart, AcceptsAnEmptyForm) {
    auto parts = parse_multipart("multipart/form-data; boundary=b", "--b--\r\n");
    ASSERT_TRUE(parts);
    EXPECT_TRUE(parts->empty());
}

TEST(Multipart, RequiresAMultipartContentTypeWithABoundary) {
    for (std::string_view type : {"application/json", "multipart/form-data", "multipart/form-data; boundary=",
                                  "multipart/form-data; boundary=\"\"", "multipart/mixed; boundary=b", ""}) {
        const Error e = parse_error(type, "--b--");
        EXPECT_EQ(e.code, Errc::BadInput) << type;
        EXPECT_EQ(e.desc, "Content-Type must be multipart/form-data with a boundary") << type;
    }
    EXPECT_EQ(parse_error("multipart/form-data; boundary=" + std::string(71, 'b'), "").code, Errc::BadInput);
}

TEST(Multipart, RejectsABodyWithoutClosingBoundary) {
    std::string body = curl_body("data");
    body.resize(body.size() - 4);  // drop "--\r\n"
    EXPECT_EQ(parse_error(kCurlType, body).desc, "multipart body has no closing boundary");
    EXPECT_EQ(parse_error(kCurlType, "--------------------------d74496d66958873e\r\n").desc,
              "multipart body has no closing boundary");
}

TEST(Multipart, RejectsABodyWithoutAnyBoundaryLine) {
    EXPECT_EQ(parse_error(kCurlType, "just some text").desc, "multipart body has no boundary line");
    EXPECT_EQ(parse_error(kCurlType, "").desc, "multipart body has no boundary line");
}

TEST(Multipart, RejectsAPartWithoutContentDisposition) {
    const Error e = parse_error("multipart/form-data; boundary=b", "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--");
    EXPECT_EQ(e.code, Errc::BadInput);
    EXPECT_EQ(e.desc, "part 1: no Content-Disposition header");
    EXPECT_EQ(parse_error("multipart/form-data; boundary=b", "--b\r\n\r\nx\r\n--b--").desc,
              "part 1: no Content-Disposition header");
}

TEST(Multipart, RejectsAHeaderBlockWithoutBlankLine) {
    const Error e =
        parse_error("multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n--b--");
    EXPECT_EQ(e.code, Errc::BadInput);
    EXPECT_EQ(e.desc, "part 1: header block not ended by a blank line");
}

TEST(Multipart, RejectsMalformedHeaders) {
    const std::string type = "multipart/form-data; boundary=b";
    EXPECT_EQ(parse_error(type, "--b\r\nno colon here\r\n\r\nx\r\n--b--").desc, "part 1: malformed header line");
    EXPECT_EQ(parse_error(type, "--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--").desc,
              "part 1: Content-Disposition has no name");
    EXPECT_EQ(parse_error(type, "--b\r\nContent-Disposition: attachment; name=a\r\n\r\nx\r\n--b--").desc,
              "part 1: Content-Disposition is not form-data");
    EXPECT_EQ(parse_error(type, "--b\r\nContent-Disposition: form-data; name=\"a\r\n\r\nx\r\n--b--").desc,
              "part 1: unterminated quoted string in Content-Disposition");
}

TEST(Multipart, CapsThePartCount) {
    std::string body;
    for (int i = 0; i <= 100; ++i) body += "--b\r\nContent-Disposition: form-data; name=\"p\"\r\n\r\nx\r\n";
    body += "--b--";
    const Error e = parse_error("multipart/form-data; boundary=b", body);
    EXPECT_EQ(e.code, Errc::TooLarge);
    EXPECT_EQ(e.desc, "more than 100 parts");
}

TEST(Multipart, CapsTheHeaderBlock) {
    const std::string big = "X-Padding: " + std::string(9000, 'p') + "\r\n";
    const std::string type = "multipart/form-data; boundary=b";
    EXPECT_EQ(parse_error(type, "--b\r\n" + big + "Content-Disposition: form-data; name=a\r\n\r\nx\r\n--b--").code,
              Errc::TooLarge);
    EXPECT_EQ(parse_error(type, "--b\r\n" + big + "\r\n--b--").code, Errc::TooLarge);
}

}  // namespace
}  // namespace kvmhub::http
