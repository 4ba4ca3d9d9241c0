// The atomic file write: temporary file, fsync, rename, fsync of the directory.
#include "tensor/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

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

void write_file_atomically(const std::string& path, const std::vector<std::string_view>& pieces) {
    const std::string temp = atomic_temp_path(path);
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    SWIRL_CHECK(fd >= 0, "{}: cannot open for writing ({})", temp, std::strerror(errno));
    try {
        for (std::string_view piece : pieces) write_all(fd, piece.data(), piece.size(), temp);
        SWIRL_CHECK(::fsync(fd) == 0, "{}: fsync failed ({})", temp, std::strerror(errno));
    } catch (...) {
        ::close(fd);
        ::unlink(temp.c_str());
        throw;
    }
    ::close(fd);
    if (::rename(temp.c_str(), path.c_str()) != 0) {
        const int error = errno;
        ::unlink(temp.c_str());
        SWIRL_FAIL("{}: cannot rename {} into place ({})", path, temp, std::strerror(error));
    }
    fsync_directory(std::filesystem::path(path).parent_path());
}

}  // namespace swirl
