// CRC-32 (IEEE 802.3, as zlib.crc32 and PNG), used to detect flipped bytes in a safetensors data section.
#pragma once

#include <cstddef>
#include <cstdint>

namespace swirl {

// Continues `crc` over `size` bytes: crc32(b, crc32(a)) == crc32(a followed by b). Start from 0.
uint32_t crc32(const void* data, std::size_t size, uint32_t crc = 0);

}  // namespace swirl
