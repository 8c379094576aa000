#include "auth/secrets.hpp"

#include <latch>
#include <thread>

#include <gtest/gtest.h>

#include "auth/base64.hpp"
#include "support/stores.hpp"

namespace kvmhub::auth {
namespace {

TEST(Secrets, CreatesARandomSecretOfTheRequestedSize) {
    std::unique_ptr<store::Store> owned_store = test::open_memory_store();
    store::Store& store = *owned_store;
    auto secret = load_or_create_secret(store, kJwtSecretKey, 32);
    ASSERT_TRUE(secret) << secret.error().desc;
    EXPECT_EQ(secret->size(), 32u);
    EXPECT_NE(*secret, std::string(32, '\0'));
}

TEST(Secrets, StoresBase64AndReturnsTheSameSecretLater) {
    std::unique_ptr<store::Store> owned_store = test::open_memory_store();
    store::Store& store = *owned_store;
    auto first = load_or_create_secret(store, kJwtSecretKey, 32);
    auto second = load_or_create_secret(store, kJwtSecretKey, 32);
    ASSERT_TRUE(first && second);
    EXPECT_EQ(*first, *second);
    auto kv = store.get(kJwtSecretKey);
    ASSERT_TRUE(kv && *kv);
    EXPECT_EQ(base64url_decode((*kv)->value), *first);
}

TEST(Secrets, DifferentStoresGetDifferentSecrets) {
    auto a = test::open_memory_store();
    auto b = test::open_memory_store();
    EXPECT_NE(*load_or_create_secret(*a, kJwtSecretKey, 32), *load_or_create_secret(*b, kJwtSecretKey, 32));
}

TEST(Secrets, TwoDaemonsRacingEndWithTheSameSecret) {
    for (int round = 0; round < 50; ++round) {
        std::unique_ptr<store::Store> owned_store = test::open_memory_store();
        store::Store& store = *owned_store;
        Result<std::string> ra, rb;
        std::latch start(2);
        std::thread ta([&] {
            start.arrive_and_wait();
            ra = load_or_create_secret(store, kJwtSecretKey, 32);
        });
        std::thread tb([&] {
            start.arrive_and_wait();
            rb = load_or_create_secret(store, kJwtSecretKey, 32);
        });
        ta.join();
        tb.join();
        ASSERT_TRUE(ra && rb);
        ASSERT_EQ(*ra, *rb) << "round " << round;
        ASSERT_EQ(base64url_decode((*store.get(kJwtSecretKey))->value), *ra);
    }
}

TEST(Secrets, CorruptStoredValueIsInternalError) {
    std::unique_ptr<store::Store> owned_store = test::open_memory_store();
    store::Store& store = *owned_store;
    ASSERT_TRUE(store.put(kJwtSecretKey, "not base64 !"));
    auto secret = load_or_create_secret(store, kJwtSecretKey, 32);
    ASSERT_FALSE(secret);
    EXPECT_EQ(secret.error().code, Errc::Internal);
    ASSERT_TRUE(store.put(kJwtSecretKey, ""));
    EXPECT_FALSE(load_or_create_secret(store, kJwtSecretKey, 32));
}

TEST(Secrets, RefusesZeroOrHugeSizes) {
    std::unique_ptr<store::Store> owned_store = test::open_memory_store();
    store::Store& store = *owned_store;
    EXPECT_EQ(load_or_create_secret(store, kJwtSecretKey, 0).error().code, Errc::BadInput);
    EXPECT_EQ(load_or_create_secret(store, kJwtSecretKey, 1 << 20).error().code, Errc::BadInput);
}

}  // namespace
}  // namespace kvmhub::auth
