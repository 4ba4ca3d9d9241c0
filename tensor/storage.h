// Storage: one block of bytes on one device. Not copyable; tensors share it through std::shared_ptr.
#pragma once

#include <cstddef>
#include <memory>

#include "tensor/device.h"
#include "tensor/dtype.h"

namespace swirl {

class Storage {
public:
    // Allocates `bytes` on `device` (64-byte aligned on the CPU, so rows vectorise cleanly). Contents undefined.
    Storage(std::size_t bytes, Device device);
    ~Storage();
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;

    void* data() { return data_; }
    const void* data() const { return data_; }
    std::size_t bytes() const { return bytes_; }
    Device device() const { return device_; }

private:
    void* data_ = nullptr;
    std::size_t bytes_ = 0;
    Device device_;
};

}  // namespace swirl
