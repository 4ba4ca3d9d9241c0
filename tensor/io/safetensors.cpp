// safetensors reading (validate everything, then allocate) and atomic writing.
#include "tensor/io/safetensors.h"

#include <algorithm>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "tensor/io/atomic_file.h"
#include "tensor/io/checksum.h"
#include "tensor/error.h"

namespace swirl {

namespace {

using nlohmann::json;

const char* safetensors_dtype(DType dtype) {
    switch (dtype) {
        case DType::f32: return "F32";
        case DType::f64: return "F64";
        case DType::i64: return "I64";
    }
    return "?";
}

bool parse_dtype(const std::string& name, DType& dtype) {
    if (name == "F32") dtype = DType::f32;
    else if (name == "F64") dtype = DType::f64;
    else if (name == "I64") dtype = DType::i64;
    else return false;
    return true;
}

// One header entry, checked but not yet allocated.
struct Entry {
    std::string name;
    DType dtype;
    Shape shape;
    uint64_t begin, end;
};

// The header's text with the value of kHeaderChecksumKey zeroed, or "" when the key is absent or repeated.
std::string header_with_blank_checksum(std::string text) {
    const std::string token = fmt::format("\"{}\":\"", kHeaderChecksumKey);
    const std::size_t at = text.find(token);
    if (at == std::string::npos || text.find(token, at + 1) != std::string::npos || at + token.size() + 8 > text.size())
        return "";
    text.replace(at + token.size(), 8, "00000000");
    return text;
}

// How deeply brackets nest in a JSON text, outside string literals. A safetensors header needs 3 levels; the
// JSON library's dump() (used for error messages) recurses per level, so a value nested a hundred thousand
// levels deep would overflow the stack: the reader measures the depth first and refuses anything deeper than
// kMaxHeaderDepth. (Found by reading the code and confirmed with the fuzz target on a small stack.)
constexpr int kMaxHeaderDepth = 16;
int json_depth(const uint8_t* text, std::size_t size) {
    int depth = 0, deepest = 0;
    bool in_string = false, escaped = false;
    for (std::size_t i = 0; i < size; ++i) {
        const char c = static_cast<char>(text[i]);
        if (in_string) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            deepest = std::max(deepest, ++depth);
        } else if (c == '}' || c == ']') {
            --depth;
        }
    }
    return deepest;
}

// A JSON value for an error message, cut to 80 characters: a hostile header can hold megabytes in one value.
std::string excerpt(const json& value) {
    std::string text = value.dump();
    if (text.size() > 80) text = text.substr(0, 77) + "...";
    return text;
}

uint64_t read_le64(const uint8_t* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

Entry parse_entry(const std::string& name, const json& value, const std::string& source) {
    SWIRL_CHECK(value.is_object() && value.contains("dtype") && value.contains("shape") && value.contains("data_offsets"),
                "{}: tensor '{}' must be an object with dtype, shape and data_offsets", source, name);
    Entry entry{name, DType::f32, {}, 0, 0};
    const json& dtype = value["dtype"];
    SWIRL_CHECK(dtype.is_string() && parse_dtype(dtype.get<std::string>(), entry.dtype),
                "{}: tensor '{}' has dtype {}, expected F32, F64 or I64", source, name, excerpt(dtype));
    const json& shape = value["shape"];
    SWIRL_CHECK(shape.is_array() && shape.size() <= 8, "{}: tensor '{}' has shape {}, expected an array of <= 8 sizes",
                source, name, excerpt(shape));
    // Count bytes in 128 bits' worth of care: a product of sizes must not wrap around.
    uint64_t bytes = dtype_size(entry.dtype);
    for (const json& d : shape) {
        SWIRL_CHECK(d.is_number_unsigned(), "{}: tensor '{}' has shape {}, expected non-negative integers", source,
                    name, excerpt(shape));
        const uint64_t size = d.get<uint64_t>();
        SWIRL_CHECK(size <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) &&
                        (size == 0 || bytes <= std::numeric_limits<uint64_t>::max() / size),
                    "{}: tensor '{}' has shape {}, too large", source, name, excerpt(shape));
        bytes *= size;
        entry.shape.push_back(static_cast<int64_t>(size));
    }
    const json& offsets = value["data_offsets"];
    SWIRL_CHECK(offsets.is_array() && offsets.size() == 2 && offsets[0].is_number_unsigned() &&
                    offsets[1].is_number_unsigned(),
                "{}: tensor '{}' has data_offsets {}, expected [begin, end]", source, name, excerpt(offsets));
    entry.begin = offsets[0].get<uint64_t>();
    entry.end = offsets[1].get<uint64_t>();
    SWIRL_CHECK(entry.begin <= entry.end && entry.end - entry.begin == bytes,
                "{}: tensor '{}' has data_offsets [{}, {}] but its dtype and shape {} need {} bytes", source, name,
                entry.begin, entry.end, excerpt(shape), bytes);
    return entry;
}

}  // namespace

const Tensor& SafetensorsContents::at(const std::string& name) const {
    for (const auto& [key, tensor] : tensors)
        if (key == name) return tensor;
    SWIRL_FAIL("no tensor named '{}' in the file", name);
}

bool SafetensorsContents::contains(const std::string& name) const {
    return std::any_of(tensors.begin(), tensors.end(), [&](const auto& entry) { return entry.first == name; });
}

SafetensorsContents parse_safetensors(const uint8_t* bytes, std::size_t size, const std::string& source) {
    SWIRL_CHECK(size >= 8, "{}: file is {} bytes, too short for a safetensors header (8-byte length first)", source,
                size);
    const uint64_t header_len = read_le64(bytes);
    SWIRL_CHECK(header_len <= kMaxSafetensorsHeaderBytes, "{}: header length {} exceeds the {} byte limit", source,
                header_len, kMaxSafetensorsHeaderBytes);
    SWIRL_CHECK(header_len <= size - 8, "{}: header length {} runs past the end of the {}-byte file", source,
                header_len, size);
    SWIRL_CHECK(json_depth(bytes + 8, header_len) <= kMaxHeaderDepth,
                "{}: the header nests deeper than {} levels (a safetensors header needs 3)", source, kMaxHeaderDepth);
    json header = json::parse(bytes + 8, bytes + 8 + header_len, nullptr, /*allow_exceptions=*/false);
    SWIRL_CHECK(!header.is_discarded(), "{}: the header is not valid JSON", source);
    SWIRL_CHECK(header.is_object(), "{}: the header must be a JSON object, got {}", source, header.type_name());

    SafetensorsContents contents;
    std::vector<Entry> entries;
    for (const auto& [key, value] : header.items()) {
        if (key == "__metadata__") {
            SWIRL_CHECK(value.is_object(), "{}: __metadata__ must be an object of strings", source);
            for (const auto& [meta_key, meta_value] : value.items()) {
                SWIRL_CHECK(meta_value.is_string(), "{}: __metadata__ value of '{}' must be a string", source, meta_key);
                contents.metadata[meta_key] = meta_value.get<std::string>();
            }
            continue;
        }
        entries.push_back(parse_entry(key, value, source));
    }

    // Byte ranges must tile the data section exactly: contiguous, in order, no gaps, no overlaps, no tail.
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    const uint64_t data_size = size - 8 - header_len;
    uint64_t expected_begin = 0;
    for (const Entry& entry : entries) {
        SWIRL_CHECK(entry.begin == expected_begin,
                    "{}: tensor '{}' starts at byte {} of the data, expected {} (ranges must be contiguous)", source,
                    entry.name, entry.begin, expected_begin);
        SWIRL_CHECK(entry.end <= data_size, "{}: tensor '{}' ends at byte {}, past the {}-byte data section", source,
                    entry.name, entry.end, data_size);
        expected_begin = entry.end;
    }
    SWIRL_CHECK(expected_begin == data_size, "{}: the tensors cover {} bytes but the data section has {}", source,
                expected_begin, data_size);

    const uint8_t* data = bytes + 8 + header_len;
    if (auto stored = contents.metadata.find(kHeaderChecksumKey); stored != contents.metadata.end()) {
        const std::string blank = header_with_blank_checksum(std::string(reinterpret_cast<const char*>(bytes + 8), header_len));
        SWIRL_CHECK(!blank.empty(), "{}: the header checksum field is malformed: the file is damaged", source);
        const std::string computed = fmt::format("{:08x}", crc32(blank.data(), blank.size()));
        SWIRL_CHECK(stored->second == computed,
                    "{}: the header's CRC-32 is {}, but the header says {}: the file is damaged", source, computed,
                    stored->second);
    }
    if (auto stored = contents.metadata.find(kDataChecksumKey); stored != contents.metadata.end()) {
        const std::string computed = fmt::format("{:08x}", crc32(data, data_size));
        SWIRL_CHECK(stored->second == computed,
                    "{}: the data section's CRC-32 is {}, but the header says {}: the file is damaged", source,
                    computed, stored->second);
    }
    for (const Entry& entry : entries) {
        Tensor tensor = Tensor::empty(entry.shape, entry.dtype);
        if (entry.end > entry.begin) std::memcpy(tensor.raw_data(), data + entry.begin, entry.end - entry.begin);
        contents.tensors.emplace_back(entry.name, std::move(tensor));
    }
    return contents;
}

SafetensorsContents read_safetensors(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    SWIRL_CHECK(file.good(), "{}: cannot open for reading ({})", path, std::strerror(errno));
    file.seekg(0, std::ios::end);
    const std::streamoff size = file.tellg();
    SWIRL_CHECK(size >= 0, "{}: cannot read the file size", path);
    file.seekg(0, std::ios::beg);
    std::vector<uint8_t> bytes(static_cast<std::size_t>(size));
    file.read(reinterpret_cast<char*>(bytes.data()), size);
    SWIRL_CHECK(file.good() || size == 0, "{}: read failed", path);
    return parse_safetensors(bytes.data(), bytes.size(), path);
}

void write_safetensors(const std::string& path, const NamedTensors& tensors, const Metadata& metadata) {
    std::vector<Tensor> host;
    uint32_t checksum = 0;
    for (const auto& [name, tensor] : tensors) {
        SWIRL_CHECK(tensor.defined(), "{}: tensor '{}' is undefined", path, name);
        host.push_back(tensor.to(Device::cpu()));
        checksum = crc32(host.back().raw_data(), host.back().nbytes(), checksum);
    }
    Metadata with_checksum = metadata;
    with_checksum[kDataChecksumKey] = fmt::format("{:08x}", checksum);
    with_checksum[kHeaderChecksumKey] = "00000000";  // filled in once the header's bytes are known
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    header["__metadata__"] = with_checksum;
    uint64_t offset = 0;
    for (const auto& [name, tensor] : tensors) {
        SWIRL_CHECK(name != "__metadata__" && !header.contains(name), "{}: tensor name '{}' is reserved or repeated",
                    path, name);
        header[name] = {{"dtype", safetensors_dtype(tensor.dtype())},
                        {"shape", tensor.shape()},
                        {"data_offsets", {offset, offset + tensor.nbytes()}}};
        offset += tensor.nbytes();
    }
    std::string header_text = header.dump();
    header_text.append((8 - header_text.size() % 8) % 8, ' ');  // keep the data 8-byte aligned, as the spec advises
    const std::string header_crc = fmt::format("{:08x}", crc32(header_text.data(), header_text.size()));
    const std::string token = fmt::format("\"{}\":\"", kHeaderChecksumKey);
    header_text.replace(header_text.find(token) + token.size(), 8, header_crc);
    uint8_t length[8];
    for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(static_cast<uint64_t>(header_text.size()) >> (8 * i));

    std::vector<std::string_view> pieces{{reinterpret_cast<const char*>(length), 8}, header_text};
    for (const Tensor& tensor : host)
        pieces.emplace_back(static_cast<const char*>(tensor.raw_data()), static_cast<std::size_t>(tensor.nbytes()));
    write_file_atomically(path, pieces);
}

}  // namespace swirl
