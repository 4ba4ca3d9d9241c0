// The atomic file write: temporary file, fsync, rename, fsync of the directory.
#include "tensor/io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "tensor/error.h"

namespace swirl {

namespace {

void write_all(int fd, const char* p, std::size_t size, const std::string& path) {
    while (size > 0) {
        const ssize_t written = ::write(fd, p, size);
        if (written < 0 && errno == EINTR) continue;
        SWIRL_CHECK(written > 0, "{}: write failed ({})", path, std::strerror(errno));
        p += written;
        size -= static_cast<std::size_t>(written);
    }
}

void fsync_directory(const std::filesystem::path& dir) {
    const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd < 0) return;  // some filesystems refuse to open directories; the rename itself still happened
    ::fsync(fd);
    ::close(fd);
}

}  // namespace

std::string atomic_temp_path(const std::string& path) { return fmt::format("{}.tmp.{}", path, ::getpid()); }

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)), temp_(atomic_temp_path(path_)) {
    fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    SWIRL_CHECK(fd_ >= 0, "{}: cannot open for writing ({})", temp_, std::strerror(errno));
}

AtomicFile::~AtomicFile() {
    if (fd_ < 0) return;  // committed
    ::close(fd_);
    ::unlink(temp_.c_str());
}

void AtomicFile::write(std::string_view piece) {
    SWIRL_CHECK(fd_ >= 0, "{}: written after commit", path_);
    write_all(fd_, piece.data(), piece.size(), temp_);
}

void AtomicFile::commit() {
    SWIRL_CHECK(fd_ >= 0, "{}: committed twice", path_);
    SWIRL_CHECK(::fsync(fd_) == 0, "{}: fsync failed ({})", temp_, std::strerror(errno));
    ::close(fd_);
    fd_ = -1;
    if (::rename(temp_.c_str(), path_.c_str()) != 0) {
        const int error = errno;
        ::unlink(temp_.c_str());
        SWIRL_FAIL("{}: cannot rename {} into place ({})", path_, temp_, std::strerror(error));
    }
    fsync_directory(std::filesystem::path(path_).parent_path());
}

void write_file_atomically(const std::string& path, const std::vector<std::string_view>& pieces) {
    AtomicFile file(path);
    for (std::string_view piece : pieces) file.write(piece);
    file.commit();
}

}  // namespace swirl
