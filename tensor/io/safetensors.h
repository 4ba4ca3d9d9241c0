// safetensors files (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length, a JSON
// header naming each tensor's dtype, shape and byte range, then the raw little-endian data.
// The reader validates the whole header against the file before it allocates anything.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace swirl {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
using Metadata = std::map<std::string, std::string>;

struct SafetensorsContents {
    NamedTensors tensors;  // in file order (ascending data offsets)
    Metadata metadata;     // the header's "__metadata__" string map (empty if absent)

    // The tensor called `name`; throws swirl::Error naming `name` if there is none.
    const Tensor& at(const std::string& name) const;
    bool contains(const std::string& name) const;
};

// The __metadata__ key under which the writer stores the CRC-32 of the data section (8 hex digits); the reader
// checks it when present. Other safetensors readers ignore it.
constexpr const char* kDataChecksumKey = "swirl.data_crc32";
// ... and the CRC-32 of the header's bytes as written, computed with these 8 digits set to '0'.
constexpr const char* kHeaderChecksumKey = "swirl.header_crc32";

// Headers longer than this are refused before they are read (a guard against absurd lengths).
constexpr uint64_t kMaxSafetensorsHeaderBytes = 100ull << 20;

// Writes atomically: a temporary file beside `path`, fsync, rename over `path`, fsync of the directory, so a
// crash leaves either the old file or the new one. Tensors may live on any device; f32, f64 and i64 only.
// The data section's CRC-32 goes into the metadata under kDataChecksumKey.
void write_safetensors(const std::string& path, const NamedTensors& tensors, const Metadata& metadata = {});

// Reads and validates a file; throws swirl::Error with the file name and the problem on any defect.
SafetensorsContents read_safetensors(const std::string& path);
// The same from bytes in memory (`source` names them in error messages): what the fuzzer drives.
SafetensorsContents parse_safetensors(const uint8_t* bytes, std::size_t size, const std::string& source);

}  // namespace swirl
