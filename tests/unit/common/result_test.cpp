#include "common/result.hpp"

#include <gtest/gtest.h>

namespace kvmhub {
namespace {

TEST(ErrcName, EveryCodeHasAStableName) {
    EXPECT_STREQ(errc_name(Errc::BadInput), "bad_input");
    EXPECT_STREQ(errc_name(Errc::HostTimeout), "host_timeout");
}

}  // namespace
}  // namespace kvmhub
