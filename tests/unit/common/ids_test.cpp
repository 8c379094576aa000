#include "common/ids.hpp"

#include <gtest/gtest.h>

#include <set>

namespace kvmhub {
namespace {

TEST(Ids, NewUuidsAreVersion4AndDistinct) {
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) {
        std::string u = new_uuid();
        ASSERT_TRUE(is_uuid(u)) << u;
        EXPECT_EQ(u[14], '4') << u;
        EXPECT_NE(std::string("89ab").find(u[19]), std::string::npos) << u;
        seen.insert(u);
    }
    EXPECT_EQ(seen.size(), 1000u);
}

TEST(Ids, IsUuidRejectsOtherShapes) {
    EXPECT_TRUE(is_uuid("6F1C3E4A-8D2B-4C1E-9A7F-0B1C2D3E4F50"));
    EXPECT_FALSE(is_uuid(""));
    EXPECT_FALSE(is_uuid("6f1c3e4a8d2b4c1e9a7f0b1c2d3e4f50"));
    EXPECT_FALSE(is_uuid("6f1c3e4a-8d2b-4c1e-9a7f-0b1c2d3e4f5g"));
    EXPECT_FALSE(is_uuid("../../../../etc/passwd/aaaaaaaaaaaaaa"));
}

}  // namespace
}  // namespace kvmhub
