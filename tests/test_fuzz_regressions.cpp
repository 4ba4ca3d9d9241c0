// Replays the fuzzers' seed corpora and every input they once crashed on (tests/fuzz/): each must parse (work, as
// a checkpoint) or be refused with swirl::Error. Under the asan preset this re-checks them for out-of-bounds reads
// and leaks too.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tensor/error.h"
#include "tensor/io/safetensors.h"
#include "tests/fuzz/checkpoint_input.h"

namespace fs = std::filesystem;

namespace {

std::vector<fs::path> files_in(const fs::path& dir) {
    std::vector<fs::path> files;
    if (!fs::is_directory(dir)) return files;
    for (const auto& entry : fs::directory_iterator(dir))
        if (entry.is_regular_file()) files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    return files;
}

std::vector<uint8_t> read_bytes(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "cannot open ", path.string());
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

// "parsed", "refused", or "threw <type>: <what>" for anything other than swirl::Error.
std::string outcome(const std::vector<uint8_t>& bytes, const std::string& source) {
    try {
        const swirl::SafetensorsContents contents = swirl::parse_safetensors(bytes.data(), bytes.size(), source);
        uint64_t sum = 0;  // read every tensor byte back
        for (const auto& [name, tensor] : contents.tensors) {
            const auto* p = static_cast<const uint8_t*>(tensor.raw_data());
            for (std::size_t i = 0; i < tensor.nbytes(); ++i) sum += p[i];
        }
        (void)sum;
        return "parsed";
    } catch (const swirl::Error&) {
        return "refused";
    } catch (const std::exception& e) {
        return std::string("threw a non-swirl::Error: ") + e.what();
    }
}

// "worked", "refused", or "threw <type>: <what>" for anything other than swirl::Error: fuzz_checkpoint's path.
std::string checkpoint_outcome(const std::vector<uint8_t>& bytes) {
    try {
        swirl::fuzz::run_checkpoint_input(bytes.data(), bytes.size());
        return "worked";
    } catch (const swirl::Error&) {
        return "refused";
    } catch (const std::exception& e) {
        return std::string("threw a non-swirl::Error: ") + e.what();
    }
}

}  // namespace

TEST_CASE("safetensors: the fuzz corpus and fuzz regressions parse or are refused with swirl::Error") {
    const fs::path root = fs::path(SWIRL_SOURCE_DIR) / "tests" / "fuzz";
    const std::vector<fs::path> corpus = files_in(root / "corpus");
    const std::vector<fs::path> regressions = files_in(root / "regressions");  // may be missing or empty
    REQUIRE_MESSAGE(!corpus.empty(), "no seed files in ", (root / "corpus").string());

    for (const fs::path& path : corpus) {
        const std::string name = path.filename().string();
        const std::string result = outcome(read_bytes(path), name);
        CAPTURE(name);
        // make_corpus.py names its seeds by what the reader must do with them.
        if (name.rfind("valid_", 0) == 0) CHECK(result == "parsed");
        else if (name.rfind("bad_", 0) == 0) CHECK(result == "refused");
        else CHECK((result == "parsed" || result == "refused"));
    }
    for (const fs::path& path : regressions) {
        const std::string name = path.filename().string();
        const std::string result = outcome(read_bytes(path), name);
        CAPTURE(name);
        CHECK((result == "parsed" || result == "refused"));
    }

    // Too big to keep as a file: a shape nested a million arrays deep (2 MB of brackets, far under the 100 MB
    // header limit). The files in regressions/ found the same recursion only on the fuzzer's small stack.
    const std::size_t depth = 1'000'000;
    std::string header = R"({"a":{"dtype":"F32","shape":[)" + std::string(depth, '[') + std::string(depth, ']') +
                         R"(],"data_offsets":[0,0]}})";
    std::vector<uint8_t> deep(8 + header.size());
    for (int i = 0; i < 8; ++i) deep[i] = static_cast<uint8_t>(static_cast<uint64_t>(header.size()) >> (8 * i));
    std::copy(header.begin(), header.end(), deep.begin() + 8);
    CHECK(outcome(deep, "deeply-nested") == "refused");
}

TEST_CASE("checkpoints: the checkpoint fuzz corpus works and its regressions work or are refused with swirl::Error") {
    const fs::path root = fs::path(SWIRL_SOURCE_DIR) / "tests" / "fuzz";
    const std::vector<fs::path> corpus = files_in(root / "corpus_checkpoint");
    const std::vector<fs::path> regressions = files_in(root / "regressions_checkpoint");  // may be missing or empty
    REQUIRE_MESSAGE(!corpus.empty(), "no seed files in ", (root / "corpus_checkpoint").string());

    for (const fs::path& path : corpus) {
        CAPTURE(path.filename().string());
        CHECK(checkpoint_outcome(read_bytes(path)) == "worked");
    }
    for (const fs::path& path : regressions) {
        const std::string result = checkpoint_outcome(read_bytes(path));
        CAPTURE(path.filename().string());
        CHECK((result == "worked" || result == "refused"));
    }

    // The fuzzer's inputs reach the checkpoint layer: a flipped data byte (the lowest of the first weight) that the
    // reader refuses at the CRC reads once with_fresh_checksums has recomputed both checksums.
    std::vector<uint8_t> flipped = read_bytes(corpus.front());
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | flipped[static_cast<std::size_t>(i)];
    REQUIRE(8 + header_len < flipped.size());
    flipped[static_cast<std::size_t>(8 + header_len)] ^= 0x01;
    CHECK(outcome(flipped, "flipped") == "refused");
    const std::vector<uint8_t> fixed = swirl::fuzz::with_fresh_checksums(flipped.data(), flipped.size());
    CHECK(outcome(fixed, "fixed") == "parsed");
    CHECK(checkpoint_outcome(flipped) == "worked");
}
