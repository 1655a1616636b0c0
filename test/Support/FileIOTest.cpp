//===- FileIOTest.cpp - Line splitting and whole-file reads ----------------===//
//
// splitLines, which the TSV reader, the prediction-file parser and
// readLines share: no empty line after a final '\n', a last line without
// one kept, empty lines inside kept, '\r' left for the caller.
//
//===----------------------------------------------------------------------===//

#include "TestSupport.h"

#include "quantbert/Support/FileIO.h"

#include <gtest/gtest.h>

using namespace quantbert;

namespace {

using Lines = std::vector<std::string_view>;

TEST(FileIOTest, SplitLinesEdges) {
  EXPECT_EQ(splitLines(""), Lines{});
  EXPECT_EQ(splitLines("\n"), Lines{""});
  EXPECT_EQ(splitLines("a"), Lines{"a"});
  EXPECT_EQ(splitLines("a\n"), Lines{"a"});
  EXPECT_EQ(splitLines("a\n\nb"), (Lines{"a", "", "b"}));
  EXPECT_EQ(splitLines("a\r\nb\n\n"), (Lines{"a\r", "b", ""}));
}

TEST(FileIOTest, ReadLinesMatchesSplitLines) {
  test::ScratchDir dir;
  std::string path = dir.path() + "/lines.txt";
  ASSERT_FALSE(writeFileAtomically(path, std::string_view("one\ntwo\n\nfour")));
  Expected<std::vector<std::string>> lines = readLines(path);
  ASSERT_TRUE(lines) << lines.message();
  EXPECT_EQ(*lines, (std::vector<std::string>{"one", "two", "", "four"}));

  Expected<std::vector<std::string>> missing = readLines(dir.path() + "/none");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.message().find("/none"), std::string::npos)
      << missing.message();
}

TEST(FileIOTest, CreateDirectoriesNamesTheDirectoryItCannotMake) {
  test::ScratchDir dir;
  std::string nested = dir.path() + "/a/b/c";
  ASSERT_FALSE(createDirectories(nested));
  EXPECT_TRUE(test::exists(nested));
  // Again: an existing directory is fine.
  EXPECT_FALSE(createDirectories(nested));
  // Under a regular file: an error naming the directory.
  ASSERT_FALSE(writeFileAtomically(dir.path() + "/file", std::string_view("x")));
  Error err = createDirectories(dir.path() + "/file/sub");
  ASSERT_TRUE(err);
  EXPECT_EQ(err.message().rfind(dir.path() + "/file/sub: cannot create "
                                "directory: ", 0),
            0u)
      << err.message();
}

} // namespace
