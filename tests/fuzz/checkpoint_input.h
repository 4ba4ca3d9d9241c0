// What the checkpoint fuzzer does with one input, shared by tests/fuzz/fuzz_checkpoint.cpp and the suite's replay
// of its corpus and regressions (tests/test_fuzz_regressions.cpp), so both run the same path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace swirl::fuzz {

// The bytes with swirl's two CRC-32s (kDataChecksumKey, kHeaderChecksumKey) recomputed exactly as
// write_safetensors computes them, wherever the header holds their fields; bytes whose header length runs past
// the end pass unchanged. A mutated file then reaches the checkpoint layer instead of stopping at a checksum.
std::vector<uint8_t> with_fresh_checksums(const uint8_t* bytes, std::size_t size);

// Reads the bytes as a checkpoint (checksums fixed up first) and uses it as swirl train --resume, sample and eval
// do: the model on the CPU in float32, the schedule, a learned schedule's state, Adam's state over the model's
// parameters (and the learned logits), the reverse step at t = 2, T/2 + 1 and T on both the fused and the plain
// path, and one training step. Returns normally or throws swirl::Error; anything else is a bug.
void run_checkpoint_input(const uint8_t* bytes, std::size_t size);

}  // namespace swirl::fuzz
