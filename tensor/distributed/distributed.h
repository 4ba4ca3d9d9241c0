// Data-parallel runs: the processes mpirun starts (ranks), and a sum of gradients whose bits do not depend on how
// many ranks there are.
//
// A step's batch is cut into S shards (a power of two, fixed by the run, not by the ranks). Each shard's
// gradients are one leaf of a pairwise tree, ((g0 + g1) + (g2 + g3)) + ((g4 + g5) + (g6 + g7)). Rank r of N
// owns the leaves [r S/N, (r + 1) S/N) and sums them as the tree does (TreeSum); the ranks then add their
// subtrees by recursive doubling: at level k, ranks r and r ^ 2^k swap their sums and both add them, which gives
// both the same bits since a + b == b + a in IEEE arithmetic. Every N that divides S computes the same tree, so
// -np 1, -np 2 and -np 4 give the same bytes. Transport is MPI's (Open MPI), or NCCL's for GPU tensors when every
// rank has a GPU of its own; nothing here is home-made but the order of the sums.
#pragma once

#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace swirl::distributed {

// Starts MPI when this process was launched by mpirun (and swirl was built with MPI); otherwise a run of one
// process, with no MPI call at all. finalize() ends it (once; harmless in a run of one).
void init(int* argc, char*** argv);
void finalize();
bool built_with_mpi();
int rank();  // 0 in a run of one
int size();  // 1 in a run of one
// This process's rank as the launcher's environment says (OMPI_COMM_WORLD_RANK, PMI_RANK), before or without
// init: for naming the rank in an error; -1 when no launcher started it.
int launcher_rank();
// This process's rank among the ranks on its machine as the launcher says (OMPI_COMM_WORLD_LOCAL_RANK,
// MPI_LOCALRANKID), -1 when no launcher started it.
int local_rank();
// How many ranks the launcher started on this machine (OMPI_COMM_WORLD_LOCAL_SIZE, MPI_LOCALNRANKS), -1 when no
// launcher started this process.
int local_size();
// The device a rank trains on, from its --device `text`: plain "cuda" on a rank with a local rank is GPU
// local_rank % cuda_count, one rank per GPU (more ranks than GPUs share them round robin); "cpu", "cuda:N", or
// any rank without a launcher, is parse_device(text).
Device rank_device(const std::string& text, int local_rank, int cuda_count);
// The same for this process: its local rank when it is one of several ranks, and the GPUs this machine has.
Device rank_device(const std::string& text);
// Ends every rank of the job with `code` (MPI_Abort), after a failure on this one; std::exit in a run of one.
[[noreturn]] void abort_job(int code);

// The largest of every rank's value, on every rank: a stop request, so that all ranks stop after the same step.
int max_over_ranks(int value);
// Throws swirl::Error on a rank whose `value` differs from rank 0's, naming `what`: a rank started with other
// flags would silently train another model.
void check_same_on_all_ranks(const std::string& what, const std::string& value);

// A pairwise tree sum of leaves added in order. A leaf is a list of tensors (the same shapes in every leaf);
// an undefined tensor is absent (a parameter that got no gradient from that shard): absent + x = x, and a sum of
// absents stays absent.
class TreeSum {
public:
    void add(std::vector<Tensor> leaf);
    int64_t leaves() const { return leaves_; }
    std::vector<Tensor> take();  // the sum of a power-of-two number of leaves; resets

private:
    struct Partial {
        int level;
        std::vector<Tensor> tensors;
    };
    std::vector<Partial> stack_;
    int64_t leaves_ = 0;
};

// Adds `a` += `b` tensor by tensor, with TreeSum's rule for absent tensors.
void add_parts_(std::vector<Tensor>& a, std::vector<Tensor>& b);

// Sums each rank's `parts` over the ranks by recursive doubling (the ranks must be a power of two); every rank
// ends with the same bits. Which parts each rank holds, and their shapes, go through MPI; the bytes go through
// MPI for host tensors, and for device tensors through NCCL on the device when swirl was built with NCCL and every
// rank trains on a GPU of its own, else staged through the host and MPI. The transport changes nothing in the
// bits: the same parts are added in the same order. Nothing happens in a run of one.
void sum_over_ranks_(std::vector<Tensor>& parts);
// Wall time and bytes this process has spent in, and sent through, sum_over_ranks_ so far. On the device the time
// includes waiting for the exchange to finish.
double reduce_seconds();
double reduce_bytes();
// The transport sum_over_ranks_ uses, chosen by all ranks together at its first sum: "none" (no sum yet, or a run
// of one), "mpi" (host tensors), "mpi, staged through the host" (device tensors) or "nccl".
std::string transport();
// The choice of NCCL: given each rank's GPU as "host name, PCI bus id" (empty for a rank on the CPU), true when
// every rank has one and no two ranks share one. NCCL refuses two ranks of one communicator on one GPU.
bool each_rank_on_its_own_gpu(const std::vector<std::string>& rank_gpus);

}  // namespace swirl::distributed
