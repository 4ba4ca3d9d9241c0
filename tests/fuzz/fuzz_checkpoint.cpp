// libFuzzer target for the checkpoint layer behind the safetensors reader: every input, its CRCs fixed up, must
// either work as a checkpoint (model, schedule, Adam's state, a reverse step, a training step) or be refused with
// swirl::Error, never crash, leak, read out of bounds or allocate absurdly. Build with -DSWIRL_FUZZ=ON; run
// scripts/fuzz.sh.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/checkpoint_input.h"
#include "tensor/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        swirl::fuzz::run_checkpoint_input(data, size);
    } catch (const swirl::Error&) {
        // A refused input: the expected outcome for a damaged checkpoint. Any other exception escapes and aborts.
    }
    return 0;
}
