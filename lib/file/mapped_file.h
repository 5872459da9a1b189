// A whole file mapped into memory (POSIX mmap), read-only or copy-on-write.
// Copy-on-write (MAP_PRIVATE + PROT_WRITE) lets a caller repack tensors in place in its own view of
// the file: only the pages it writes are copied, the file on disk never changes.
#ifndef Q4R_LIB_MAPPED_FILE_H_
#define Q4R_LIB_MAPPED_FILE_H_

#include <cstddef>
#include <cstdint>

#include "q4repack/q4repack.h"

namespace q4r {

class MappedFile {
 public:
  enum class Mode { kReadOnly, kCopyOnWrite };

  MappedFile() = default;
  ~MappedFile() { close(); }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  MappedFile(MappedFile&& other) noexcept { *this = static_cast<MappedFile&&>(other); }
  MappedFile& operator=(MappedFile&& other) noexcept;

  // Q4R_E_IO with a message naming the path and the OS error. An empty file maps to size 0 with
  // a null data pointer.
  q4r_status open(const char* path, Mode mode = Mode::kReadOnly);
  void close();

  const uint8_t* data() const { return data_; }
  // Writable only in kCopyOnWrite mode (nullptr otherwise).
  uint8_t* writable_data() const { return mode_ == Mode::kCopyOnWrite ? data_ : nullptr; }
  std::size_t size() const { return size_; }
  bool is_open() const { return open_; }

 private:
  uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
  Mode mode_ = Mode::kReadOnly;
  bool open_ = false;
};

}  // namespace q4r

#endif  // Q4R_LIB_MAPPED_FILE_H_
