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

} // namespace
