//===- FileIO.h - Whole-file reads and atomic writes -------------*- C++ -*-===//
//
// The file primitives the bundle readers and writers share. Every file of a
// bundle (model.safetensors, config.json, quant.json, sensitivity.json) is
// written atomically: into `PATH.tmp.<pid>` in the same directory, fsync'ed,
// renamed over PATH, and the directory fsync'ed. A reader therefore sees the
// old file or the new one, never a torn one, and a failed write leaves an
// existing PATH untouched and no temporary file behind.
//
// POSIX (open/fsync/rename); C++17 standard library otherwise.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_SUPPORT_FILEIO_H
#define QUANTBERT_SUPPORT_FILEIO_H

#include "quantbert/Support/Error.h"

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace quantbert {

/// Reads the whole file at `path`.
Expected<std::string> readFile(const std::string &path);

/// The lines of `text`, without their '\n' (a last line without one counts;
/// a final '\n' does not start an empty line). The views point into `text`.
std::vector<std::string_view> splitLines(std::string_view text);

/// The lines of the file at `path`, split as splitLines does.
Expected<std::vector<std::string>> readLines(const std::string &path);

/// Appends `size` bytes at `data` to the file being written.
using ChunkWriter = std::function<Error(const void *data, size_t size)>;

/// Writes `path` atomically. `produce` streams the contents through the
/// ChunkWriter it is given; if it (or any file operation) fails, the temporary
/// file is removed, `path` is left as it was, and the failure is returned.
Error writeFileAtomically(const std::string &path,
                          const std::function<Error(const ChunkWriter &)> &produce);

/// Writes `contents` to `path` atomically.
Error writeFileAtomically(const std::string &path, std::string_view contents);

/// Creates `dir` and its missing parents (an existing directory is fine);
/// the error names the directory.
Error createDirectories(const std::string &dir);

} // namespace quantbert

#endif // QUANTBERT_SUPPORT_FILEIO_H
