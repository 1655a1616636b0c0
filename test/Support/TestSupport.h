//===- TestSupport.h - Scratch directories for the Support tests -*- C++ -*-===//
//
// A self-deleting temporary directory and two filesystem queries, so the
// file-writing tests never touch anything outside their own directory.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_TEST_SUPPORT_TESTSUPPORT_H
#define QUANTBERT_TEST_SUPPORT_TESTSUPPORT_H

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace quantbert::test {

/// A fresh directory under the test temp dir, removed with its contents.
class ScratchDir {
public:
  ScratchDir() {
    std::string pattern = ::testing::TempDir() + "qbsupport-XXXXXX";
    if (::mkdtemp(pattern.data()))
      path_ = pattern;
    else
      ADD_FAILURE() << "mkdtemp failed for " << pattern;
  }
  ScratchDir(const ScratchDir &) = delete;
  ScratchDir &operator=(const ScratchDir &) = delete;
  ~ScratchDir() {
    std::error_code ignored;
    if (!path_.empty())
      std::filesystem::remove_all(path_, ignored);
  }
  const std::string &path() const { return path_; }

private:
  std::string path_;
};

/// The sorted names of the entries of `dir`.
inline std::vector<std::string> listDir(const std::string &dir) {
  std::vector<std::string> names;
  for (const auto &entry : std::filesystem::directory_iterator(dir))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

inline bool exists(const std::string &path) {
  return std::filesystem::exists(path);
}

} // namespace quantbert::test

#endif // QUANTBERT_TEST_SUPPORT_TESTSUPPORT_H
