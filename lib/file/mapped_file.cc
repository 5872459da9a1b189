#include "mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "lib/error.h"

namespace q4r {

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    close();
    data_ = other.data_;
    size_ = other.size_;
    mode_ = other.mode_;
    open_ = other.open_;
    other.data_ = nullptr;
    other.size_ = 0;
    other.open_ = false;
  }
  return *this;
}

q4r_status MappedFile::open(const char* path, Mode mode) {
  close();
  if (!path) return fail(Q4R_E_NULL, "file path is NULL");
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(Q4R_E_IO, "cannot open '%s': %s", path, std::strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    return fail(Q4R_E_IO, "cannot stat '%s': %s", path, std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return fail(Q4R_E_IO, "'%s' is not a regular file", path);
  }
  void* p = nullptr;
  if (st.st_size > 0) {
    const int prot = mode == Mode::kCopyOnWrite ? PROT_READ | PROT_WRITE : PROT_READ;
    p = mmap(nullptr, static_cast<std::size_t>(st.st_size), prot, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int e = errno;
      ::close(fd);
      return fail(Q4R_E_IO, "cannot map '%s' (%lld bytes): %s", path, (long long)st.st_size,
                  std::strerror(e));
    }
  }
  ::close(fd);  // the mapping keeps its own reference to the file
  data_ = static_cast<uint8_t*>(p);
  size_ = static_cast<std::size_t>(st.st_size);
  mode_ = mode;
  open_ = true;
  return Q4R_OK;
}

void MappedFile::close() {
  if (data_) munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
  open_ = false;
}

}  // namespace q4r
