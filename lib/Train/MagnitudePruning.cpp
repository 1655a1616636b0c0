//===- MagnitudePruning.cpp - Gradual magnitude pruning -------------------===//

#include "quantbert/Train/MagnitudePruning.h"

#include "quantbert/Support/BitPacking.h"

#include <cmath>
#include <cstdlib>

using namespace quantbert;
using namespace quantbert::train;

Expected<SparsityBlock> quantbert::train::parseSparsityBlock(
    const std::string &text) {
  size_t x = text.find('x');
  auto parse = [](const std::string &part, int64_t &value) {
    if (part.empty() || part.size() > 6 ||
        part.find_first_not_of("0123456789") != std::string::npos)
      return false;
    value = std::stoll(part);
    return value >= 1;
  };
  SparsityBlock block;
  if (x == std::string::npos || !parse(text.substr(0, x), block.rows) ||
      !parse(text.substr(x + 1), block.cols))
    return Error::failure("sparsity block '" + text +
                 "' is not ROWSxCOLS with positive integers (e.g. 16x4, "
                 "1x1)");
  return block;
}

Error quantbert::train::validate(const MagnitudePruningOptions &o) {
  if (!(o.finalSparsity >= 0 && o.finalSparsity < 1))
    return Error::failure("final sparsity " + std::to_string(o.finalSparsity) +
                 " is not in [0, 1)");
  if (!(o.initialSparsity >= 0 && o.initialSparsity <= o.finalSparsity))
    return Error::failure("initial sparsity " + std::to_string(o.initialSparsity) +
                 " is not in [0, final sparsity]");
  if (o.beginStep < 0 || o.endStep < o.beginStep)
    return Error::failure("pruning steps " + std::to_string(o.beginStep) + " to " +
                 std::to_string(o.endStep) +
                 ": need 0 <= begin step <= end step");
  if (o.updateEvery < 1)
    return Error::failure("pruning update interval " + std::to_string(o.updateEvery) +
                 " is not >= 1");
  if (o.block.rows < 1 || o.block.cols < 1)
    return Error::failure("sparsity block sizes must be >= 1");
  return Error::success();
}

double quantbert::train::scheduledSparsity(const MagnitudePruningOptions &o,
                                           int64_t step) {
  if (step < o.beginStep)
    return 0;
  if (step >= o.endStep)
    return o.finalSparsity;
  int64_t updated = o.beginStep + (step - o.beginStep) / o.updateEvery *
                                      o.updateEvery;
  double progress =
      double(updated - o.beginStep) / double(o.endStep - o.beginStep);
  double remaining = 1 - progress;
  return o.finalSparsity + (o.initialSparsity - o.finalSparsity) *
                               remaining * remaining * remaining;
}

namespace {

/// The L2 norm of every block of `weight`, [blockRows, blockCols] (edge
/// blocks padded with zeros).
torch::Tensor blockNorms(const torch::Tensor &weight, SparsityBlock block) {
  int64_t out = weight.size(0), in = weight.size(1);
  int64_t rows = (out + block.rows - 1) / block.rows;
  int64_t cols = (in + block.cols - 1) / block.cols;
  torch::Tensor squares =
      torch::constant_pad_nd(weight.detach().to(torch::kFloat64).square(),
                             {0, cols * block.cols - in, 0,
                              rows * block.rows - out});
  return squares.view({rows, block.rows, cols, block.cols})
      .sum({1, 3})
      .sqrt();
}

/// Expands a [blockRows, blockCols] block mask to `weight`'s shape.
torch::Tensor expandBlocks(const torch::Tensor &blocks,
                           const torch::Tensor &weight, SparsityBlock block) {
  return blocks.repeat_interleave(block.rows, 0)
      .repeat_interleave(block.cols, 1)
      .slice(0, 0, weight.size(0))
      .slice(1, 0, weight.size(1))
      .to(weight.dtype());
}

} // namespace

torch::Tensor quantbert::train::magnitudeMask(const torch::Tensor &weight,
                                              double sparsity,
                                              SparsityBlock block) {
  torch::Tensor norms = blockNorms(weight, block);
  int64_t count = norms.numel();
  auto pruned = static_cast<int64_t>(std::llround(sparsity * double(count)));
  torch::Tensor keep = torch::ones({count}, torch::kBool);
  if (pruned > 0) {
    // A stable sort, so equal norms (the zero blocks after a resume) are
    // taken in block order.
    torch::Tensor order =
        std::get<1>(norms.flatten().sort(c10::optional<bool>(true), /*dim=*/0,
                                          /*descending=*/false));
    keep.index_fill_(0, order.slice(0, 0, pruned), false);
  }
  return expandBlocks(keep.view(norms.sizes()), weight, block);
}

double quantbert::train::blockSparsity(const torch::Tensor &weight,
                                       SparsityBlock block) {
  torch::Tensor norms = blockNorms(weight, block);
  return norms.eq(0).sum().item<double>() / double(norms.numel());
}

Expected<MagnitudePruner>
MagnitudePruner::create(torch::nn::Module &model,
                        MagnitudePruningOptions options) {
  if (Error err = validate(options))
    return err;
  std::vector<Target> targets;
  std::vector<std::string> skipped;
  for (const auto &item : model.named_modules()) {
    const std::string &name = item.key();
    auto *linear = dynamic_cast<QuantLinearImpl *>(item.value().get());
    if (!linear || name.rfind("bert.encoder.", 0) != 0 ||
        name.find("embedding_hidden_mapping_in") != std::string::npos ||
        (name.size() >= 5 && name.compare(name.size() - 5, 5, ".down") == 0))
      continue;
    if (linear->down)
      return Error::failure("cannot prune " + name +
                   ": it is low-rank factorized (prune before factorizing)");
    SparsityBlock block = options.block;
    if (const auto &spec = linear->spec()) {
      // Unscaled signs (SensiMix's MP FFNs) are pruned in the binary
      // kernel's blocks, which they binarize to zeros; BWN's mean scale
      // would change with the zeros, so those stay dense.
      if (spec->weight == Quantizer::BinaryMeanScale) {
        skipped.push_back(name);
        continue;
      }
      if (spec->weight == Quantizer::BinarySign)
        block = SparsityBlock{kBinaryBlockRows, kBitsPerPackedWord};
      else if (spec->weight != Quantizer::SymmetricEma &&
               spec->weight != Quantizer::Twn)
        return Error::failure("cannot prune " + name + ": its " +
                     std::string(quantizerName(spec->weight)) +
                     " weights cannot represent a pruned (zero) weight; "
                     "magnitude pruning works with float, int8 (symmetric), "
                     "ternary and 1-bit sign weights (binary-mean-scale ones "
                     "are left dense)");
    }
    targets.push_back({name, linear->weight, torch::Tensor(), block});
  }
  if (targets.empty())
    return Error::failure(skipped.empty()
                              ? "the model has no encoder linear to prune"
                              : "every encoder linear is binary-mean-scale: "
                                "nothing to prune");
  MagnitudePruner pruner(options, std::move(targets));
  pruner.skipped_ = std::move(skipped);
  return pruner;
}

void MagnitudePruner::afterStep(int64_t step) {
  double target = scheduledSparsity(options_, step);
  torch::NoGradGuard noGrad;
  if (target != sparsity_) {
    for (Target &t : targets_)
      t.mask = magnitudeMask(t.weight, target, t.block);
    sparsity_ = target;
  }
  if (sparsity_ == 0)
    return;
  for (Target &t : targets_)
    t.weight.mul_(t.mask);
}

std::vector<std::string> MagnitudePruner::binaryBlockNames() const {
  std::vector<std::string> names;
  for (const Target &t : targets_)
    if (t.block.rows == kBinaryBlockRows && t.block.cols == kBitsPerPackedWord &&
        !(options_.block.rows == t.block.rows &&
          options_.block.cols == t.block.cols))
      names.push_back(t.name);
  return names;
}

std::vector<std::string> MagnitudePruner::linearNames() const {
  std::vector<std::string> names;
  for (const Target &t : targets_)
    names.push_back(t.name);
  return names;
}
