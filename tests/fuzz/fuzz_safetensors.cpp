// libFuzzer target for the safetensors reader: every input must either parse or be refused with swirl::Error,
// never crash, leak, read out of bounds or allocate absurdly. Build with -DSWIRL_FUZZ=ON; run scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>
#include <string>

#include "tensor/error.h"
#include "tensor/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        const swirl::SafetensorsContents contents = swirl::parse_safetensors(data, size, "fuzz-input");
        // Touch every byte of every tensor, and every metadata string, so ASan checks the reads and copies.
        uint64_t sum = 0;
        for (const auto& [name, tensor] : contents.tensors) {
            const auto* bytes = static_cast<const uint8_t*>(tensor.raw_data());
            for (std::size_t i = 0; i < tensor.nbytes(); ++i) sum += bytes[i];
            sum += name.size();
        }
        for (const auto& [key, value] : contents.metadata) sum += key.size() + value.size();
        volatile uint64_t sink = sum;
        (void)sink;
    } catch (const swirl::Error&) {
        // A refused input: the expected outcome for malformed bytes. Any other exception escapes and aborts.
    }
    return 0;
}
