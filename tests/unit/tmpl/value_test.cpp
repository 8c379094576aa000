#include "tmpl/value.hpp"

#include <limits>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace kvmhub::tmpl {
namespace {

TEST(TmplValue, FormatsFloatsLikePythonRepr) {
    EXPECT_EQ(format_float(2.5), "2.5");
    EXPECT_EQ(format_float(2.0), "2.0");
    EXPECT_EQ(format_float(-0.0), "-0.0");
    EXPECT_EQ(format_float(0.1), "0.1");
    EXPECT_EQ(format_float(123456789.125), "123456789.125");
    EXPECT_EQ(format_float(1e15), "1000000000000000.0");
    EXPECT_EQ(format_float(1e16), "1e+16");
    EXPECT_EQ(format_float(1.5e16), "1.5e+16");
    EXPECT_EQ(format_float(0.0001), "0.0001");
    EXPECT_EQ(format_float(0.00001), "1e-05");
    EXPECT_EQ(format_float(1.5e-7), "1.5e-07");
    EXPECT_EQ(format_float(-1234.5), "-1234.5");
    EXPECT_EQ(format_float(std::numeric_limits<double>::infinity()), "inf");
    EXPECT_EQ(format_float(-std::numeric_limits<double>::infinity()), "-inf");
    EXPECT_EQ(format_float(std::numeric_limits<double>::quiet_NaN()), "nan");
}

TEST(TmplValue, TruthinessFollowsPython) {
    EXPECT_FALSE(Value().truthy());
    EXPECT_FALSE(Value::none().truthy());
    EXPECT_FALSE(Value(0).truthy());
    EXPECT_FALSE(Value(0.0).truthy());
    EXPECT_FALSE(Value("").truthy());
    EXPECT_FALSE(Value::list({}).truthy());
    EXPECT_TRUE(Value("0").truthy());
    EXPECT_TRUE(Value(-1).truthy());
    EXPECT_TRUE(Value::list({Value()}).truthy());
}

TEST(TmplValue, EqualityTreatsBoolAsIntAndComparesDeeply) {
    Budget budget{1000};
    EXPECT_TRUE(equals(Value(true), Value(1), budget));
    EXPECT_TRUE(equals(Value(1), Value(1.0), budget));
    EXPECT_FALSE(equals(Value(1), Value("1"), budget));
    EXPECT_TRUE(equals(Value(), Value(), budget));
    EXPECT_FALSE(equals(Value(), Value::none(), budget));
    EXPECT_TRUE(equals(Value::dict({{"a", Value(1)}, {"b", Value(2)}}), Value::dict({{"b", Value(2)}, {"a", Value(1)}}),
                       budget));
    EXPECT_FALSE(budget.exhausted);
    Budget tiny{2};
    EXPECT_FALSE(equals(Value::list({Value(1), Value(2)}), Value::list({Value(1), Value(2)}), tiny));
    EXPECT_TRUE(tiny.exhausted);
}

TEST(TmplValue, ReprQuotesLikePython) {
    std::string out;
    ASSERT_TRUE(append_repr(Value::list({Value("a'b"), Value("x\"y"), Value("t\x01\n"), Value("both'\"")}), out, 1000));
    EXPECT_EQ(out, R"(["a'b", 'x"y', 't\x01\n', 'both\'"'])");
    std::string capped;
    EXPECT_FALSE(append_repr(Value::list({Value(std::string(50, 'x'))}), capped, 20));
}

TEST(TmplValue, Utf8HelpersTakeMalformedBytesOneAtATime) {
    EXPECT_EQ(utf8_length("h\xc3\xa9llo"), 5u);
    EXPECT_EQ(utf8_length("\xff\xfe"), 2u);
    EXPECT_EQ(utf8_length("\xc3"), 1u);      // truncated sequence
    EXPECT_EQ(utf8_length("\xe2\x82"), 2u);  // truncated three-byte sequence
    EXPECT_EQ(utf8_length("\xf0\x9f\x98\x80"), 1u);
    EXPECT_EQ(utf8_char_len("\xe2\x82\xac", 0), 3u);
}

TEST(TmplValue, ConvertsJsonContexts) {
    auto v = from_json(nlohmann::json::parse(R"({"a": [1, 2.5, null, true, "s"], "big": 18446744073709551615})"));
    ASSERT_TRUE(v);
    ASSERT_EQ(v->kind(), Value::Kind::Dict);
    const Value* a = v->find("a");
    ASSERT_NE(a, nullptr);
    ASSERT_EQ(a->items().size(), 5u);
    EXPECT_EQ(a->items()[0].kind(), Value::Kind::Int);
    EXPECT_EQ(a->items()[1].kind(), Value::Kind::Float);
    EXPECT_TRUE(a->items()[2].is_none());
    EXPECT_EQ(a->items()[3].kind(), Value::Kind::Bool);
    EXPECT_EQ(a->items()[4].str(), "s");
    EXPECT_EQ(v->find("big")->kind(), Value::Kind::Float);
    EXPECT_EQ(v->depth(), 2);
}

TEST(TmplValue, ItemsOfListsAndStringsUsePythonIndexes) {
    const Value list = Value::list({Value(10), Value(20)});
    EXPECT_EQ(list.item(Value(-1)).as_int(), 20);
    EXPECT_TRUE(list.item(Value(2)).is_undefined());
    EXPECT_TRUE(list.item(Value(-3)).is_undefined());
    EXPECT_TRUE(list.item(Value("0")).is_undefined());
    EXPECT_EQ(Value("h\xc3\xa9!").item(Value(1)).str(), "\xc3\xa9");
    EXPECT_EQ(Value("abc").item(Value(-3)).str(), "a");
    EXPECT_TRUE(Value("abc").item(Value(-4)).is_undefined());
}

}  // namespace
}  // namespace kvmhub::tmpl
