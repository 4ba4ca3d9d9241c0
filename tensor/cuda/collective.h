// NCCL for the sum over ranks (tensor/distributed/): the run's one communicator, and the swap of gradient parts
// with a partner rank on the device. Which transport a run uses, the unique id's trip through MPI and the order
// of the sums stay in distributed.cpp; this file only moves bytes between GPUs. Built only with NCCL
// (SWIRL_WITH_NCCL).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace swirl::cuda {

// The bytes of an ncclUniqueId (NCCL_UNIQUE_ID_BYTES), so that distributed.cpp can broadcast one without nccl.h.
constexpr std::size_t kUniqueIdBytes = 128;

// The GPU's PCI address, "0000:3b:00.0" (cudaDeviceGetPCIBusId): with the host name it says whether two ranks
// share a GPU, which NCCL refuses.
std::string pci_bus_id(int device);

// A fresh id for the communicator (ncclGetUniqueId), made by one rank and handed to all.
std::string unique_id();
// Joins this rank to the communicator of `id` on GPU `device` (ncclCommInitRank; it returns once every rank has
// joined). One communicator a process, kept until close_communicator or abort_communicator.
void open_communicator(const std::string& id, int rank, int ranks, int device);
// Sends every defined tensor of `send` to rank `partner` and receives into every defined tensor of `receive`
// (allocated by the caller on the communicator's device, shaped as the partner's parts) what the partner sends,
// both in index order, as raw bytes. Queued on the legacy default stream, where every swirl kernel runs: after the
// kernels that wrote `send`, before any that reads `receive`. It returns before the bytes have moved.
void exchange(int partner, const std::vector<Tensor>& send, std::vector<Tensor>& receive);
// Frees the communicator at the end of a run (ncclCommDestroy); nothing when none is open.
void close_communicator();
// Frees it on an error path (ncclCommAbort), without waiting for work that a failed rank may never finish. The
// job is ending already: a failure here is printed, not thrown.
void abort_communicator() noexcept;

}  // namespace swirl::cuda
