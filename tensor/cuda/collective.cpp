// The NCCL communicator of a data-parallel run and the swap of gradient parts on the device (collective.h).
#include "tensor/cuda/collective.h"

#include <cstdio>
#include <cstring>

#include "tensor/cuda/check.h"
#include "tensor/cuda/libraries.h"
#include "tensor/cuda/runtime.h"
#include "tensor/error.h"

namespace swirl::cuda {

namespace {

static_assert(sizeof(ncclUniqueId) == kUniqueIdBytes, "kUniqueIdBytes (collective.h) must be NCCL_UNIQUE_ID_BYTES");

ncclComm_t communicator = nullptr;
int communicator_device = -1;

void check_on_communicator_device(const Tensor& tensor) {
    SWIRL_CHECK(tensor.device() == Device::cuda(communicator_device),
                "the sum over ranks on cuda:{} (NCCL) got a part on {}: every part must be on the training device",
                communicator_device, device_name(tensor.device()));
}

}  // namespace

std::string pci_bus_id(int device) {
    char id[32] = {};  // "dddd:bb:dd.f" and its terminator take 13
    SWIRL_CUDA_CHECK(cudaDeviceGetPCIBusId(id, sizeof(id), device));
    return id;
}

std::string unique_id() {
    ncclUniqueId id;
    SWIRL_NCCL_CHECK(nccl().get_unique_id(&id));
    return std::string(id.internal, kUniqueIdBytes);
}

void open_communicator(const std::string& id, int rank, int ranks, int device) {
    SWIRL_CHECK(communicator == nullptr, "the NCCL communicator is open already: one a process");
    SWIRL_CHECK(id.size() == kUniqueIdBytes, "an NCCL unique id has {} bytes, not {}", kUniqueIdBytes, id.size());
    ncclUniqueId nccl_id;
    std::memcpy(nccl_id.internal, id.data(), kUniqueIdBytes);
    use_device(device);  // NCCL ties the communicator to the current device
    ncclComm_t opened = nullptr;
    SWIRL_NCCL_CHECK(nccl().comm_init_rank(&opened, ranks, nccl_id, rank));
    communicator = opened;
    communicator_device = device;
}

void exchange(int partner, const std::vector<Tensor>& send, std::vector<Tensor>& receive) {
    SWIRL_CHECK(communicator != nullptr, "no NCCL communicator: open_communicator comes first");
    use_device(communicator_device);
    const NcclApi& api = nccl();
    // One group, so that the sends and the receives progress together (alone, each rank's first send would wait
    // for a receive its partner has not posted). Calls to one peer inside a group run in order: the i-th send
    // meets the partner's i-th receive, and the metadata exchanged before (distributed.cpp) gave both one size.
    // The legacy default stream orders them after every kernel queued so far and before every later one, so the
    // caching allocator may hand out a freed block at once (tensor/cuda/README.md).
    // Checked before the group opens: an error inside it would leave the group open.
    for (const Tensor& part : send)
        if (part.defined()) check_on_communicator_device(part);
    for (const Tensor& part : receive)
        if (part.defined()) check_on_communicator_device(part);
    SWIRL_NCCL_CHECK(api.group_start());
    try {
        for (const Tensor& part : send)
            if (part.defined())
                SWIRL_NCCL_CHECK(
                    api.send(part.raw_data(), part.nbytes(), ncclUint8, partner, communicator, cudaStreamLegacy));
        for (Tensor& part : receive)
            if (part.defined())
                SWIRL_NCCL_CHECK(
                    api.recv(part.raw_data(), part.nbytes(), ncclUint8, partner, communicator, cudaStreamLegacy));
    } catch (...) {
        (void)api.group_end();  // closes the group for the abort that follows; the first error is the one to report
        throw;
    }
    SWIRL_NCCL_CHECK(api.group_end());
}

void close_communicator() {
    if (communicator == nullptr) return;
    ncclComm_t closing = communicator;
    communicator = nullptr;  // gone even if the destroy fails: an abort afterwards must not free it twice
    SWIRL_NCCL_CHECK(nccl().comm_destroy(closing));
}

void abort_communicator() noexcept {
    if (communicator == nullptr) return;
    ncclComm_t aborting = communicator;
    communicator = nullptr;
    // nccl() was loaded when the communicator was opened: it cannot throw here.
    if (const ncclResult_t code = nccl().comm_abort(aborting); code != ncclSuccess)
        std::fprintf(stderr, "swirl: ncclCommAbort failed: %s\n", nccl().error_string(code));
}

}  // namespace swirl::cuda
