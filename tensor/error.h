// swirl::Error and the SWIRL_CHECK macro family: user errors throw with file:line and a fmt-built message.
#pragma once

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <stdexcept>
#include <string>

namespace swirl {

// Every error swirl reports to its caller. The message is one line: what was wrong and what was expected.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

namespace detail {
[[noreturn]] void throw_error(const char* file, int line, const std::string& message);
}  // namespace detail

}  // namespace swirl

// SWIRL_CHECK(cond, "fmt {}", args...): throw swirl::Error when cond is false (a user error, not a bug in us).
#define SWIRL_CHECK(cond, ...)                                                        \
    do {                                                                              \
        if (!(cond)) ::swirl::detail::throw_error(__FILE__, __LINE__, fmt::format(__VA_ARGS__)); \
    } while (0)

// SWIRL_FAIL("fmt {}", args...): throw unconditionally.
#define SWIRL_FAIL(...) ::swirl::detail::throw_error(__FILE__, __LINE__, fmt::format(__VA_ARGS__))
