// Behaviour of the safetensors reader and writer: round trips, atomic writes, and refusal of damaged files.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "helpers.h"
#include "tensor/io/atomic_file.h"
#include "tensor/error.h"
#include "tensor/ops.h"

using namespace swirl;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir() {
    fs::path dir = fs::temp_directory_path() / fmt::format("swirl_test_{}", ::getpid());
    fs::create_directories(dir);
    return dir;
}

std::vector<uint8_t> bytes_of(const NamedTensors& tensors, const Metadata& metadata = {}) {
    const fs::path path = temp_dir() / "bytes.safetensors";
    write_safetensors(path, tensors, metadata);
    std::ifstream in(path, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

std::string refusal(const std::vector<uint8_t>& bytes) {
    try {
        parse_safetensors(bytes.data(), bytes.size(), "damaged.safetensors");
    } catch (const Error& e) {
        return e.what();
    }
    return "accepted";
}

std::vector<uint8_t> with_header(const std::string& header, std::size_t data_bytes) {
    std::vector<uint8_t> bytes(8 + header.size() + data_bytes, 0);
    const uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<uint8_t>(n >> (8 * i));
    std::memcpy(bytes.data() + 8, header.data(), header.size());
    return bytes;
}

}  // namespace

TEST_CASE("tensors and metadata survive a write and a read, bit for bit") {
    Generator gen(1);
    NamedTensors tensors = {{"a", Tensor::randn({3, 2}, gen)},
                            {"b", Tensor::randn({5}, gen, DType::f64)},
                            {"step", Tensor::from_indices({42})},
                            {"empty", Tensor::zeros({0, 4})}};
    const fs::path path = temp_dir() / "round.safetensors";
    write_safetensors(path, tensors, {{"format", "swirl"}});
    const auto read = read_safetensors(path);
    CHECK(read.metadata.at("format") == "swirl");
    REQUIRE(read.tensors.size() == 4);
    for (const auto& [name, tensor] : tensors) {
        CAPTURE(name);
        CHECK(read.at(name).dtype() == tensor.dtype());
        CHECK(read.at(name).shape() == tensor.shape());
        CHECK(std::memcmp(read.at(name).raw_data(), tensor.raw_data(), tensor.nbytes()) == 0);
    }
    CHECK_FALSE(fs::exists(atomic_temp_path(path.string())));
}

TEST_CASE("a write into a missing directory throws and leaves nothing behind") {
    const fs::path path = temp_dir() / "no_such_dir" / "x.safetensors";
    CHECK_THROWS_WITH_AS(write_safetensors(path, {{"a", Tensor::zeros({1})}}), doctest::Contains("cannot open"), Error);
    CHECK_FALSE(fs::exists(path.parent_path()));
}

TEST_CASE("damaged files are refused with a message naming the file and the problem") {
    const auto good = bytes_of({{"w", Tensor::ones({2, 2})}, {"b", Tensor::ones({2})}}, {{"k", "v"}});
    CHECK(refusal(good) == "accepted");
    CHECK(refusal({}).find("too short") != std::string::npos);
    CHECK(refusal({1, 2, 3}).find("damaged.safetensors") != std::string::npos);
    for (std::size_t cut : {std::size_t{8}, std::size_t{20}, good.size() - 1}) {
        CAPTURE(cut);
        CHECK(refusal(std::vector<uint8_t>(good.begin(), good.begin() + static_cast<long>(cut))) != "accepted");
    }
    auto absurd = good;
    absurd[7] = 0x7f;
    CHECK(refusal(absurd).find("exceeds") != std::string::npos);
    CHECK(refusal(with_header("{not json", 0)).find("not valid JSON") != std::string::npos);
    CHECK(refusal(with_header("[1,2]", 0)).find("JSON object") != std::string::npos);
    CHECK(refusal(with_header(R"({"w":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}})", 2)).find("dtype") !=
          std::string::npos);
    CHECK(refusal(with_header(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4)).find("non-negative") !=
          std::string::npos);
    CHECK(refusal(with_header(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 4)).find("need 8 bytes") !=
          std::string::npos);
    CHECK(refusal(with_header(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8)).find("contiguous") !=
          std::string::npos);
    CHECK(refusal(with_header(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 12)).find("cover 4 bytes") !=
          std::string::npos);
    CHECK(refusal(with_header(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                              R"("b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
                              4))
              .find("contiguous") != std::string::npos);
    CHECK(refusal(with_header(R"({"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}})", 4))
              .find("too large") != std::string::npos);
    CHECK(refusal(with_header(R"({"__metadata__":{"k":1}})", 0)).find("must be a string") != std::string::npos);
}

TEST_CASE("a missing file is refused with its name") {
    CHECK_THROWS_WITH_AS(read_safetensors("/nonexistent/x.safetensors"), doctest::Contains("/nonexistent/x.safetensors"),
                         Error);
}
