// The ranks of a data-parallel run, and the fixed-order sum over them (distributed.h).
#include "tensor/distributed/distributed.h"

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <algorithm>
#include <set>

#include "tensor/error.h"
#include "tensor/ops.h"

#ifdef SWIRL_WITH_MPI
#include <mpi.h>
#endif
#ifdef SWIRL_WITH_NCCL
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "tensor/cuda/collective.h"
#endif

namespace swirl::distributed {

namespace {

int world_rank = 0;
int world_size = 1;
[[maybe_unused]] bool mpi_running = false;
double seconds_reducing = 0.0;
double bytes_reduced = 0.0;

int env_int(const char* name) {
    const char* text = std::getenv(name);
    return text != nullptr ? std::atoi(text) : -1;
}

// The first of the launchers' variables that is set (Open MPI's, MPICH's, PMI's), or -1.
int first_env_int(std::initializer_list<const char*> names) {
    for (const char* name : names)
        if (int value = env_int(name); value >= 0) return value;
    return -1;
}

#ifdef SWIRL_WITH_MPI
void check_mpi(int code, const char* what) {
    if (code == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(code, text, &length);
    SWIRL_FAIL("{} failed on rank {}: {}", what, world_rank, std::string(text, static_cast<std::size_t>(length)));
}

// How sum_over_ranks_ moves the parts' bytes: chosen at its first sum (choose_transport), kept for the run.
enum class Transport { undecided, mpi, mpi_staged, nccl };
Transport transport_in_use = Transport::undecided;
#ifdef SWIRL_WITH_NCCL

// "host 0000:3b:00.0" for a rank on a GPU, empty for one on the CPU: MPI_Allgather'ed into each rank's view.
std::vector<std::string> gather_rank_gpus(Device device) {
    constexpr int kSlot = 128;  // fixed-size slots: a host name, a space, a bus id (under 32) and a terminator
    static_assert(HOST_NAME_MAX + 1 + 32 < kSlot, "a rank's GPU must fit its slot");
    std::vector<char> mine(kSlot, '\0');
    if (device.is_cuda()) {
        char host[HOST_NAME_MAX + 1] = {};
        SWIRL_CHECK(gethostname(host, sizeof(host)) == 0, "gethostname failed: {}", std::strerror(errno));
        host[HOST_NAME_MAX] = '\0';  // POSIX leaves a truncated name unterminated
        const std::string gpu = std::string(host) + " " + cuda::pci_bus_id(device.index);
        std::memcpy(mine.data(), gpu.data(), gpu.size());
    }
    std::vector<char> all(static_cast<std::size_t>(kSlot) * world_size);
    check_mpi(MPI_Allgather(mine.data(), kSlot, MPI_CHAR, all.data(), kSlot, MPI_CHAR, MPI_COMM_WORLD),
              "MPI_Allgather");
    std::vector<std::string> gpus;
    for (int r = 0; r < world_size; ++r) gpus.emplace_back(all.data() + static_cast<std::size_t>(r) * kSlot);
    return gpus;
}
#endif

// Every rank calls this at its first sum, with the device its parts are on. NCCL when it is built in and every
// rank trains on a GPU of its own: NCCL refuses two ranks of one communicator on one GPU ("Duplicate GPU
// detected", ncclInvalidUsage), so the ranks first compare their GPUs, all together, and all decide alike; rank 0
// then makes the communicator's id and MPI broadcasts it. Otherwise MPI, through the host for device tensors.
Transport choose_transport(Device device) {
#ifdef SWIRL_WITH_NCCL
    if (each_rank_on_its_own_gpu(gather_rank_gpus(device))) {
        std::string id(cuda::kUniqueIdBytes, '\0');
        if (world_rank == 0) id = cuda::unique_id();
        check_mpi(MPI_Bcast(id.data(), static_cast<int>(id.size()), MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Bcast");
        cuda::open_communicator(id, world_rank, world_size, device.index);
        return Transport::nccl;
    }
#endif
    return device.is_cpu() ? Transport::mpi : Transport::mpi_staged;
}

// The bytes of every defined tensor of `send` to `partner`, packed in order into one MPI_Sendrecv, and the
// partner's into the defined tensors of `receive` (shaped as the partner's parts, each on its final device);
// device tensors are copied to the host first, and the received ones to their device after.
void exchange_through_host(int partner, const std::vector<Tensor>& send, std::vector<Tensor>& receive) {
    std::vector<Tensor> host(send.size());
    std::size_t send_bytes = 0, receive_bytes = 0;
    for (std::size_t i = 0; i < send.size(); ++i)
        if (send[i].defined()) {
            host[i] = send[i].to(Device::cpu());
            send_bytes += host[i].nbytes();
        }
    std::vector<char> packed(send_bytes);
    std::size_t at = 0;
    for (const Tensor& part : host)
        if (part.defined()) {
            std::memcpy(packed.data() + at, part.raw_data(), part.nbytes());
            at += part.nbytes();
        }
    for (const Tensor& part : receive)
        if (part.defined()) receive_bytes += part.nbytes();
    std::vector<char> unpacked(receive_bytes);
    check_mpi(MPI_Sendrecv(packed.data(), static_cast<int>(send_bytes), MPI_BYTE, partner, 3, unpacked.data(),
                           static_cast<int>(receive_bytes), MPI_BYTE, partner, 3, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
              "MPI_Sendrecv");
    at = 0;
    for (Tensor& part : receive)
        if (part.defined()) {
            Tensor staged = part.device().is_cpu() ? part : Tensor::empty(part.shape(), part.dtype());
            std::memcpy(staged.raw_data(), unpacked.data() + at, part.nbytes());
            at += part.nbytes();
            if (!part.device().is_cpu()) copy_(part, staged);
        }
}
#endif

// Absent + x = x; x + y in place.
void add_part_(Tensor& a, Tensor& b) {
    if (!b.defined()) return;
    if (!a.defined()) {
        a = std::move(b);
        return;
    }
    SWIRL_CHECK(a.shape() == b.shape() && a.dtype() == b.dtype(), "sum of parts: shapes {} and {} differ",
                shape_str(a.shape()), shape_str(b.shape()));
    add_(a, b);
}

}  // namespace

bool built_with_mpi() {
#ifdef SWIRL_WITH_MPI
    return true;
#else
    return false;
#endif
}

int launcher_rank() { return first_env_int({"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK"}); }

int local_rank() { return first_env_int({"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "PMIX_LOCAL_RANK"}); }

int local_size() { return first_env_int({"OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"}); }

Device rank_device(const std::string& text, int local_rank, int cuda_count) {
    if (text == "cuda" && local_rank >= 0 && cuda_count > 0) return Device::cuda(local_rank % cuda_count);
    return parse_device(text);
}

Device rank_device(const std::string& text) {
    return rank_device(text, size() > 1 ? local_rank() : -1, cuda_device_count());
}

void init(int* argc, char*** argv) {
    const int launched_size = std::max(env_int("OMPI_COMM_WORLD_SIZE"), env_int("PMI_SIZE"));
#ifdef SWIRL_WITH_MPI
    if (launched_size < 1 || mpi_running) return;
    int provided = 0;
    check_mpi(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    mpi_running = true;
    // Errors come back as codes and become swirl::Error, instead of MPI's default of ending the job silently.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    check_mpi(MPI_Comm_rank(MPI_COMM_WORLD, &world_rank), "MPI_Comm_rank");
    check_mpi(MPI_Comm_size(MPI_COMM_WORLD, &world_size), "MPI_Comm_size");
#else
    (void)argc;
    (void)argv;
    SWIRL_CHECK(launched_size <= 1,
                "this swirl was built without MPI (SWIRL_MPI=OFF, or libopenmpi-dev missing at configure), so mpirun "
                "would start {} independent runs: build with MPI or run one process", launched_size);
#endif
}

void finalize() {
#ifdef SWIRL_WITH_MPI
    if (!mpi_running) return;
#ifdef SWIRL_WITH_NCCL
    cuda::close_communicator();  // while every rank is still in the job: a rank may leave once MPI_Finalize returns
#endif
    MPI_Finalize();
    mpi_running = false;
#endif
}

int rank() { return world_rank; }
int size() { return world_size; }

void abort_job(int code) {
#ifdef SWIRL_WITH_NCCL
    cuda::abort_communicator();  // not ncclCommDestroy, which could wait for a failed rank's part for ever
#endif
#ifdef SWIRL_WITH_MPI
    if (mpi_running && world_size > 1) MPI_Abort(MPI_COMM_WORLD, code);
#endif
    std::exit(code);
}

int max_over_ranks(int value) {
#ifdef SWIRL_WITH_MPI
    if (world_size > 1) {
        int result = 0;
        check_mpi(MPI_Allreduce(&value, &result, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD), "MPI_Allreduce");
        return result;
    }
#endif
    return value;
}

void check_same_on_all_ranks(const std::string& what, const std::string& value) {
#ifdef SWIRL_WITH_MPI
    if (world_size > 1) {
        // Rank 0's text, of its length, to every rank.
        uint64_t length = value.size();
        check_mpi(MPI_Bcast(&length, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD), "MPI_Bcast");
        std::string first(length, '\0');
        if (world_rank == 0) first = value;
        check_mpi(MPI_Bcast(first.data(), static_cast<int>(length), MPI_CHAR, 0, MPI_COMM_WORLD), "MPI_Bcast");
        SWIRL_CHECK(first == value, "rank {} was started with other {} than rank 0 ('{}' against rank 0's '{}'): every "
                    "rank must run the same command", world_rank, what, value, first);
    }
#else
    (void)what;
    (void)value;
#endif
}

void add_parts_(std::vector<Tensor>& a, std::vector<Tensor>& b) {
    SWIRL_CHECK(a.size() == b.size(), "sum of parts: {} tensors against {}", a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) add_part_(a[i], b[i]);
}

void TreeSum::add(std::vector<Tensor> leaf) {
    Partial partial{0, std::move(leaf)};
    // Two partials of one level are two sibling subtrees: left + right makes their parent.
    while (!stack_.empty() && stack_.back().level == partial.level) {
        Partial left = std::move(stack_.back());
        stack_.pop_back();
        add_parts_(left.tensors, partial.tensors);
        partial = {left.level + 1, std::move(left.tensors)};
    }
    stack_.push_back(std::move(partial));
    ++leaves_;
}

std::vector<Tensor> TreeSum::take() {
    SWIRL_CHECK(stack_.size() == 1, "TreeSum: {} leaves are not a power of two", leaves_);
    std::vector<Tensor> sum = std::move(stack_.back().tensors);
    stack_.clear();
    leaves_ = 0;
    return sum;
}

void sum_over_ranks_(std::vector<Tensor>& parts) {
    if (world_size == 1) return;
#ifdef SWIRL_WITH_MPI
    SWIRL_CHECK((world_size & (world_size - 1)) == 0, "sum over ranks: {} ranks are not a power of two", world_size);
    const auto start = std::chrono::steady_clock::now();
    const std::size_t n = parts.size();
    // The training device: a GPU when some part is on one. A learned schedule's gradient stays on the CPU beside a
    // GPU model's, so parts may live on both.
    Device device = Device::cpu();
    for (const Tensor& part : parts)
        if (part.defined() && !part.device().is_cpu()) device = part.device();
    if (transport_in_use == Transport::undecided) transport_in_use = choose_transport(device);
    for (int distance = 1; distance < world_size; distance *= 2) {
        const int partner = world_rank ^ distance;
        // Which parts each side holds (dtype, shape, and whether on a GPU: a shard without some step has no
        // gradient for its head), through MPI whatever the transport of the bytes: it is a few host numbers.
        constexpr std::size_t kFields = 5;
        std::vector<int64_t> mine, theirs(n * kFields, -1);
        std::size_t send_bytes = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const Shape shape = parts[i].defined() ? parts[i].shape() : Shape{};
            SWIRL_CHECK(shape.size() <= 2, "sum over ranks: parts have at most 2 dimensions");
            mine.push_back(parts[i].defined() ? static_cast<int64_t>(parts[i].dtype()) : -1);
            mine.push_back(static_cast<int64_t>(shape.size()));
            mine.push_back(shape.size() > 0 ? shape[0] : 0);
            mine.push_back(shape.size() > 1 ? shape[1] : 0);
            mine.push_back(parts[i].defined() && !parts[i].device().is_cpu() ? 1 : 0);
            if (parts[i].defined()) send_bytes += parts[i].nbytes();
        }
        check_mpi(MPI_Sendrecv(mine.data(), static_cast<int>(kFields * n), MPI_INT64_T, partner, 2, theirs.data(),
                               static_cast<int>(kFields * n), MPI_INT64_T, partner, 2, MPI_COMM_WORLD,
                               MPI_STATUS_IGNORE),
                  "MPI_Sendrecv");
        // The partner's parts, each where this rank keeps that part: a GPU part on this rank's GPU.
        std::vector<Tensor> received(n);
        for (std::size_t i = 0; i < n; ++i)
            if (const int64_t* s = &theirs[kFields * i]; s[0] >= 0) {
                Shape shape;
                for (int64_t d = 0; d < s[1]; ++d) shape.push_back(s[2 + d]);
                received[i] = Tensor::empty(shape, static_cast<DType>(s[0]), s[4] != 0 ? device : Device::cpu());
            }
        // The bytes: GPU parts through NCCL when it is the transport, everything else through MPI (staged through
        // the host for a GPU part). Both ranks of a pair make the same calls: their parts sit on the same kinds of
        // device.
        std::vector<Tensor> send_through_host = parts, receive_through_host = received;
#ifdef SWIRL_WITH_NCCL
        if (transport_in_use == Transport::nccl) {
            std::vector<Tensor> send_on_gpu(n), receive_on_gpu(n);
            for (std::size_t i = 0; i < n; ++i) {
                if (parts[i].defined() && !parts[i].device().is_cpu()) std::swap(send_on_gpu[i], send_through_host[i]);
                if (received[i].defined() && !received[i].device().is_cpu())
                    std::swap(receive_on_gpu[i], receive_through_host[i]);
            }
            cuda::exchange(partner, send_on_gpu, receive_on_gpu);
        }
#endif
        exchange_through_host(partner, send_through_host, receive_through_host);
        add_parts_(parts, received);
        bytes_reduced += static_cast<double>(send_bytes);
    }
    // NCCL's exchanges, and on either path the last additions, are only queued on a GPU: the clock stops when they
    // are done.
    synchronize(device);
    seconds_reducing += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
#else
    (void)parts;
#endif
}

double reduce_seconds() { return seconds_reducing; }
double reduce_bytes() { return bytes_reduced; }

std::string transport() {
#ifdef SWIRL_WITH_MPI
    switch (transport_in_use) {
        case Transport::mpi: return "mpi";
        case Transport::mpi_staged: return "mpi, staged through the host";
        case Transport::nccl: return "nccl";
        case Transport::undecided: break;
    }
#endif
    return "none";
}

bool each_rank_on_its_own_gpu(const std::vector<std::string>& rank_gpus) {
    std::set<std::string> seen;
    for (const std::string& gpu : rank_gpus)
        if (gpu.empty() || !seen.insert(gpu).second) return false;
    return true;
}

}  // namespace swirl::distributed
