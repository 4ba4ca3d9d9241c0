// The single place where swirl::Error is thrown, so every error carries the same "message (file:line)" form.
#include "tensor/error.h"

#include <string_view>

namespace swirl::detail {

[[noreturn]] void throw_error(const char* file, int line, const std::string& message) {
    // Keep only the path below the source root: "tensor/ops.cpp", not the builder's absolute path.
    std::string_view path(file);
    for (std::string_view layer : {"tensor/", "autograd/", "nn/", "diffusion/", "apps/", "tests/", "examples/"}) {
        if (auto at = path.rfind(layer); at != std::string_view::npos) {
            path.remove_prefix(at);
            break;
        }
    }
    throw Error(fmt::format("{} ({}:{})", message, path, line));
}

}  // namespace swirl::detail
