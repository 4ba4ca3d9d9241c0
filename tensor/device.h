// Devices (the CPU, CUDA device N), their discovery, and the switches that act on a whole device: TF32 for
// CUDA matrix products, flushing denormal floats on the CPU.
#pragma once

#include <string>

namespace swirl {

enum class DeviceType { cpu, cuda };

struct Device {
    DeviceType type = DeviceType::cpu;
    int index = 0;

    static Device cpu() { return {DeviceType::cpu, 0}; }
    static Device cuda(int index = 0) { return {DeviceType::cuda, index}; }
    bool is_cpu() const { return type == DeviceType::cpu; }
    bool is_cuda() const { return type == DeviceType::cuda; }
    // Spelled out (not defaulted): this header is also compiled by nvcc in C++17 mode.
    bool operator==(const Device& other) const { return type == other.type && index == other.index; }
    bool operator!=(const Device& other) const { return !(*this == other); }
};

std::string device_name(Device device);  // "cpu", "cuda:0"
// The number of usable CUDA devices: 0 when swirl was built without CUDA, and 0 (not an error) on a machine
// without a GPU or driver.
int cuda_device_count();
// Lets float32 matrix products on CUDA devices use TF32 tensor cores (10-bit mantissa inputs, float32 sums): off
// by default, for results close to the CPU's; on is faster. The CPU has no TF32 and is not affected; in a build
// without CUDA this does nothing. As torch.backends.cuda.matmul.allow_tf32.
void set_cuda_allow_tf32(bool allow);

// Flush denormal floats to zero on this thread and on the threads it starts later (x86 FTZ + DAZ; returns false
// where the CPU has no such mode). As training goes on, Adam's second moments and small gradients decay into the
// denormal range, where each operation takes a slow microcode path and a long run slows to a fraction of its
// speed. As torch.set_flush_denormal(True).
bool set_flush_denormal(bool enabled);

// Returns when all work queued on `device` has finished: nothing to wait for on the CPU, whose ops return done.
void synchronize(Device device);

// Parses "cpu", "cuda" or "cuda:N"; throws swirl::Error on anything else.
Device parse_device(const std::string& text);
// Throws swirl::Error with one clear line when `device` cannot be used here: a CUDA device in a build without
// CUDA ("this swirl was built without CUDA"), on a machine without one ("no CUDA device available: ..."), or an
// index past the last device.
void check_device_available(Device device);

}  // namespace swirl
