//===- Error.h - Error and Expected<T> for the support library ---*- C++ -*-===//
//
// The two result types every fallible function of QBSupport returns. The
// support library is shared by the LibTorch front end and the MLIR importer,
// so it cannot use llvm::Error; and files written by other tools are
// untrusted input, so failures are values carrying one human-readable line
// (e.g. "model.safetensors: tensor 'x' has shape [768, 768], expected
// [768, 3072]") rather than exceptions. No exception escapes the public API.
//
// Conventions, chosen to read like llvm::Error / llvm::Expected:
//   - `Error` converts to true when it holds a failure:
//         if (Error err = writer.writeAtomically(path)) report(err.message());
//   - `Expected<T>` converts to true when it holds a value:
//         Expected<SafetensorsFile> file = SafetensorsFile::open(path);
//         if (!file) return file.error();
//         use(*file);
// Unlike LLVM's types, neither must be "checked" before destruction.
//
// Dependency-free: C++17 standard library only.
//
//===----------------------------------------------------------------------===//

#ifndef QUANTBERT_SUPPORT_ERROR_H
#define QUANTBERT_SUPPORT_ERROR_H

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace quantbert {

/// Success, or a failure with a one-line message.
class [[nodiscard]] Error {
public:
  /// The success value.
  static Error success() { return Error(); }

  /// A failure with `message`.
  static Error failure(std::string message) {
    Error err;
    err.message_ = std::move(message);
    return err;
  }

  /// True when this is a failure.
  explicit operator bool() const { return message_.has_value(); }

  /// The failure message; empty on success.
  const std::string &message() const {
    static const std::string empty;
    return message_ ? *message_ : empty;
  }

private:
  Error() = default;
  std::optional<std::string> message_;
};

/// A value of type T, or a failure Error.
template <typename T> class [[nodiscard]] Expected {
public:
  Expected(T value) : value_(std::move(value)), error_(Error::success()) {}

  /// Wraps a failure; `error` must not be success.
  Expected(Error error) : error_(std::move(error)) {
    assert(error_ && "Expected<T> built from a success Error");
  }

  /// True when a value is held.
  explicit operator bool() const { return value_.has_value(); }

  T &operator*() & {
    assert(value_ && "dereferencing a failed Expected");
    return *value_;
  }
  const T &operator*() const & {
    assert(value_ && "dereferencing a failed Expected");
    return *value_;
  }
  T &&operator*() && {
    assert(value_ && "dereferencing a failed Expected");
    return std::move(*value_);
  }
  T *operator->() { return &**this; }
  const T *operator->() const { return &**this; }

  /// The failure (success when a value is held).
  const Error &error() const { return error_; }

  /// Shorthand for error().message().
  const std::string &message() const { return error_.message(); }

private:
  std::optional<T> value_;
  Error error_;
};

} // namespace quantbert

#endif // QUANTBERT_SUPPORT_ERROR_H
