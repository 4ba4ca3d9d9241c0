// Files written whole or not at all: what checkpoints, figures, loss logs and sample files are written with.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace swirl {

// A file written piece by piece and put in place whole: for output too large to hold in memory (swirl sample's
// CSV). Writes go to atomic_temp_path(path); commit() fsyncs it and renames it over `path`. Destroyed without a
// commit (an error, an exception on the way), it removes the temporary file and `path` keeps what it held.
class AtomicFile {
public:
    explicit AtomicFile(std::string path);
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    void write(std::string_view piece);
    void commit();

private:
    std::string path_, temp_;
    int fd_ = -1;
};

// Writes `pieces`, in order, to `path` atomically: a temporary file beside it (`path`.tmp.<pid>), fsync, rename
// over `path`, fsync of the directory. A crash or kill leaves the old file or the new one, never a torn one; on an
// error the temporary file is removed and swirl::Error names the file and the cause.
void write_file_atomically(const std::string& path, const std::vector<std::string_view>& pieces);

// The temporary file write_file_atomically uses for `path` (for tests that check it is gone).
std::string atomic_temp_path(const std::string& path);

}  // namespace swirl
