//===- FileIO.cpp - Whole-file reads and atomic writes --------------------===//
//
// readFile and writeFileAtomically on POSIX file descriptors, so every step
// (write, fsync, rename, directory fsync) can report errno in its message.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Support/FileIO.h"

#include <algorithm>
#include <filesystem>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace quantbert;

namespace {

std::string errnoText() { return std::strerror(errno); }

/// Closes a descriptor on scope exit unless released.
class FileDescriptor {
public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor &) = delete;
  FileDescriptor &operator=(const FileDescriptor &) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0)
      ::close(fd_);
  }
  int get() const { return fd_; }
  /// Closes now and reports the result: close() can surface delayed write
  /// errors (e.g. on NFS), which an atomic writer must not ignore.
  int close() {
    int result = ::close(fd_);
    fd_ = -1;
    return result;
  }

private:
  int fd_;
};

Error writeAll(int fd, const void *data, size_t size, const std::string &path) {
  const char *bytes = static_cast<const char *>(data);
  while (size > 0) {
    ssize_t written = ::write(fd, bytes, size);
    if (written < 0) {
      if (errno == EINTR)
        continue;
      return Error::failure(path + ": write failed: " + errnoText());
    }
    bytes += written;
    size -= static_cast<size_t>(written);
  }
  return Error::success();
}

std::string parentDirectory(const std::string &path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos)
    return ".";
  if (slash == 0)
    return "/";
  return path.substr(0, slash);
}

/// Makes the rename durable: without this a crash can lose the new
/// directory entry even though the file data was synced.
Error syncDirectory(const std::string &dir) {
  FileDescriptor fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0)
    return Error::failure(dir + ": cannot open directory to sync: " +
                          errnoText());
  if (::fsync(fd.get()) != 0)
    return Error::failure(dir + ": directory fsync failed: " + errnoText());
  return Error::success();
}

} // namespace

Expected<std::string> quantbert::readFile(const std::string &path) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0)
    return Error::failure(path + ": cannot open: " + errnoText());
  struct stat info;
  if (::fstat(fd.get(), &info) != 0)
    return Error::failure(path + ": cannot stat: " + errnoText());
  if (!S_ISREG(info.st_mode))
    return Error::failure(path + ": not a regular file");
  std::string contents;
  contents.reserve(static_cast<size_t>(info.st_size));
  char buffer[1 << 16];
  while (true) {
    ssize_t got = ::read(fd.get(), buffer, sizeof(buffer));
    if (got < 0) {
      if (errno == EINTR)
        continue;
      return Error::failure(path + ": read failed: " + errnoText());
    }
    if (got == 0)
      break;
    contents.append(buffer, static_cast<size_t>(got));
  }
  return contents;
}

std::vector<std::string_view> quantbert::splitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  for (size_t start = 0; start < text.size();) {
    size_t end = std::min(text.find('\n', start), text.size());
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

Expected<std::vector<std::string>>
quantbert::readLines(const std::string &path) {
  Expected<std::string> text = readFile(path);
  if (!text)
    return text.error();
  std::vector<std::string> lines;
  for (std::string_view line : splitLines(*text))
    lines.emplace_back(line);
  return lines;
}

Error quantbert::writeFileAtomically(
    const std::string &path,
    const std::function<Error(const ChunkWriter &)> &produce) {
  std::string tempPath = path + ".tmp." + std::to_string(::getpid());
  FileDescriptor fd(::open(tempPath.c_str(),
                           O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (fd.get() < 0)
    return Error::failure(path + ": cannot create temporary file '" + tempPath +
                          "': " + errnoText());

  auto fail = [&](Error err) {
    ::unlink(tempPath.c_str());
    return err;
  };
  ChunkWriter write = [&](const void *data, size_t size) {
    return writeAll(fd.get(), data, size, tempPath);
  };
  if (Error err = produce(write))
    return fail(std::move(err));
  if (::fsync(fd.get()) != 0)
    return fail(Error::failure(tempPath + ": fsync failed: " + errnoText()));
  if (fd.close() != 0)
    return fail(Error::failure(tempPath + ": close failed: " + errnoText()));
  if (::rename(tempPath.c_str(), path.c_str()) != 0)
    return fail(Error::failure(path + ": cannot replace with '" + tempPath +
                               "': " + errnoText()));
  if (Error err = syncDirectory(parentDirectory(path)))
    return Error::failure(path + " was written but " + err.message());
  return Error::success();
}

Error quantbert::writeFileAtomically(const std::string &path,
                                     std::string_view contents) {
  return writeFileAtomically(path, [&](const ChunkWriter &write) {
    return write(contents.data(), contents.size());
  });
}

Error quantbert::createDirectories(const std::string &dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return Error::failure(dir + ": cannot create directory: " + ec.message());
  return Error::success();
}
