#include "http/file_reply.hpp"

#include <gtest/gtest.h>

namespace kvmhub::http {
namespace {

ByteRange range_of(std::string_view header, std::uint64_t size) {
    const RangeAnswer answer = parse_range(header, size);
    EXPECT_TRUE(std::holds_alternative<ByteRange>(answer)) << header;
    return std::holds_alternative<ByteRange>(answer) ? std::get<ByteRange>(answer) : ByteRange{};
}

TEST(ParseRange, TheThreeFormsOfOneByteRange) {
    auto both = range_of("bytes=10-19", 100);
    EXPECT_EQ(both.first, 10u);
    EXPECT_EQ(both.last, 19u);
    auto open = range_of("bytes=90-", 100);  // curl -C - resumes with this
    EXPECT_EQ(open.first, 90u);
    EXPECT_EQ(open.last, 99u);
    auto suffix = range_of("bytes=-30", 100);
    EXPECT_EQ(suffix.first, 70u);
    EXPECT_EQ(suffix.last, 99u);
    auto past_end = range_of("bytes=50-1000", 100);
    EXPECT_EQ(past_end.last, 99u) << "a last byte past the end is the end";
    auto longer_suffix = range_of("bytes=-1000", 100);
    EXPECT_EQ(longer_suffix.first, 0u);
}

TEST(ParseRange, WhatItDoesNotUnderstandGetsTheWholeFile) {
    for (const char* header : {"", "items=0-1", "bytes=0-1,5-6", "bytes=abc", "bytes=5-2", "bytes=1-x", "bytes=-"})
        EXPECT_TRUE(std::holds_alternative<WholeFile>(parse_range(header, 100))) << header;
}

TEST(ParseRange, ARangeStartingPastTheEndIsUnsatisfiable) {
    for (const char* header : {"bytes=100-", "bytes=100-200", "bytes=-0"})
        EXPECT_TRUE(std::holds_alternative<Unsatisfiable>(parse_range(header, 100))) << header;
    EXPECT_TRUE(std::holds_alternative<Unsatisfiable>(parse_range("bytes=0-", 0))) << "an empty file has no bytes";
}

TEST(SafeRelative, OnlyPlainNamesBelowTheFolder) {
    EXPECT_EQ(safe_relative("a/b.qcow2").value_or(""), "a/b.qcow2");
    for (const char* bad : {"", "../x", "a/../b", ".hidden", "a//b", "a/", "a\\b"})
        EXPECT_FALSE(safe_relative(bad)) << bad;
}

}  // namespace
}  // namespace kvmhub::http
