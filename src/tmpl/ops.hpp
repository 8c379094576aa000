// Python semantics for the binary operators and comparisons, with 64-bit overflow checks.
#pragma once

#include <cstddef>
#include <string>

#include <tl/expected.hpp>

#include "tmpl/ast.hpp"
#include "tmpl/value.hpp"

namespace kvmhub::tmpl {

struct OpLimits {
    std::size_t max_bytes = 0;  // longest string an operator may build
    std::size_t max_items = 0;  // longest list an operator may build
};

using OpResult = tl::expected<Value, std::string>;  // the error is a reason; the caller adds the position

OpResult binary_op(BinOp op, const Value& a, const Value& b, const OpLimits& limits, Budget& budget);
tl::expected<bool, std::string> compare_op(CmpOp op, const Value& a, const Value& b, Budget& budget);
OpResult negate(const Value& v, bool minus);

}  // namespace kvmhub::tmpl
