//===- WordVectors.cpp - Distributional word vectors by PPMI and SVD ------===//

#include "quantbert/Train/WordVectors.h"

#include "quantbert/Train/BertModel.h"

#include <algorithm>

namespace quantbert::train {

torch::Tensor cooccurrenceCounts(const std::vector<std::vector<int32_t>> &lines,
                                 const std::vector<int64_t> &rows,
                                 const std::vector<int64_t> &contexts,
                                 int64_t vocabSize, int64_t window) {
  std::vector<int32_t> rowOf(vocabSize, -1), columnOf(vocabSize, -1);
  for (size_t r = 0; r < rows.size(); ++r)
    rowOf[rows[r]] = int32_t(r);
  for (size_t c = 0; c < contexts.size(); ++c)
    columnOf[contexts[c]] = int32_t(c);
  torch::Tensor counts =
      torch::zeros({int64_t(rows.size()), int64_t(contexts.size())});
  float *data = counts.data_ptr<float>();
  int64_t width = int64_t(contexts.size());
  for (const std::vector<int32_t> &line : lines) {
    int64_t n = int64_t(line.size());
    for (int64_t i = 0; i < n; ++i) {
      int32_t row = rowOf[line[i]];
      if (row < 0)
        continue;
      float *out = data + int64_t(row) * width;
      for (int64_t j = std::max<int64_t>(0, i - window),
                   end = std::min(n, i + window + 1);
           j < end; ++j) {
        int32_t column = columnOf[line[j]];
        if (j != i && column >= 0)
          out[column] += 1;
      }
    }
  }
  return counts;
}

torch::Tensor positivePmi(const torch::Tensor &counts,
                          double contextSmoothing) {
  torch::Tensor n = counts.to(torch::kDouble);
  torch::Tensor total = n.sum();
  torch::Tensor rowSums = n.sum(1, /*keepdim=*/true);
  torch::Tensor smoothed = n.sum(0, /*keepdim=*/true).pow(contextSmoothing);
  torch::Tensor contextP = smoothed / smoothed.sum();
  // log P(w, c) - log P(w) - log P_a(c) on the non-zero counts only; a
  // non-zero count implies non-zero row and column sums.
  torch::Tensor positive = n > 0;
  torch::Tensor pmi = (n.clamp_min(1) / total).log() -
                      (rowSums.clamp_min(1) / total).log() -
                      contextP.clamp_min(1e-300).log();
  return torch::where(positive, pmi.clamp_min(0), torch::zeros_like(pmi))
      .to(torch::kFloat);
}

std::pair<torch::Tensor, torch::Tensor>
randomizedSvd(const torch::Tensor &matrix, int64_t rank, int64_t oversample,
              int64_t powerIterations, uint64_t seed) {
  int64_t k = std::min({rank + oversample, matrix.size(0), matrix.size(1)});
  torch::Generator generator = at::detail::createCPUGenerator(seed);
  torch::Tensor omega =
      torch::randn({matrix.size(1), k}, generator, matrix.options());
  auto orthonormal = [](const torch::Tensor &y) {
    return std::get<0>(torch::linalg_qr(y, "reduced"));
  };
  torch::Tensor q = orthonormal(matrix.mm(omega));
  // Power iterations sharpen the spectrum's decay; re-orthonormalising
  // between the products keeps the small directions from being lost to
  // rounding.
  for (int64_t i = 0; i < powerIterations; ++i)
    q = orthonormal(matrix.mm(orthonormal(matrix.t().mm(q))));
  torch::Tensor small = q.t().mm(matrix);
  auto [u, s, vh] = torch::linalg_svd(small, /*full_matrices=*/false);
  (void)vh;
  int64_t kept = std::min(rank, s.size(0));
  return {q.mm(u).narrow(1, 0, kept).contiguous(),
          s.narrow(0, 0, kept).contiguous()};
}

Expected<WordVectors> ppmiSvdVectors(
    const std::vector<std::vector<int32_t>> &lines, int64_t vocabSize,
    const PpmiSvdOptions &options) {
  if (options.dim <= 0 || options.window <= 0 || options.minCount <= 0 ||
      options.maxContexts <= 0)
    return Error::failure("word vectors: dimension, window, minimum count "
                          "and context count must be positive");
  std::vector<int64_t> frequency(vocabSize, 0);
  for (const std::vector<int32_t> &line : lines)
    for (int32_t id : line) {
      if (id < 0 || id >= vocabSize)
        return Error::failure("word vectors: token id " + std::to_string(id) +
                              " outside the vocabulary of " +
                              std::to_string(vocabSize));
      ++frequency[id];
    }
  std::vector<int64_t> rows;
  for (int64_t id = 0; id < vocabSize; ++id)
    if (frequency[id] >= options.minCount)
      rows.push_back(id);
  std::vector<int64_t> contexts = rows;
  std::stable_sort(contexts.begin(), contexts.end(), [&](int64_t a, int64_t b) {
    return frequency[a] > frequency[b];
  });
  if (int64_t(contexts.size()) > options.maxContexts)
    contexts.resize(options.maxContexts);
  if (int64_t(contexts.size()) < options.dim)
    return Error::failure(
        "word vectors: the corpus has " + std::to_string(contexts.size()) +
        " tokens seen at least " + std::to_string(options.minCount) +
        " times, fewer than the " + std::to_string(options.dim) +
        " dimensions asked for");

  torch::Tensor ppmi = positivePmi(
      cooccurrenceCounts(lines, rows, contexts, vocabSize, options.window),
      options.contextSmoothing);
  auto [u, s] = randomizedSvd(ppmi, options.dim, options.oversample,
                              options.powerIterations, options.seed);
  // Levy et al.'s symmetric weighting: U * S^(1/2).
  torch::Tensor rowVectors = u * s.sqrt().unsqueeze(0);

  WordVectors out;
  out.vectors = torch::zeros({vocabSize, options.dim});
  out.known = torch::zeros({vocabSize}, torch::kBool);
  torch::Tensor index = torch::tensor(rows, torch::kLong);
  out.vectors.index_copy_(0, index, rowVectors);
  out.known.index_fill_(0, index, true);
  return out;
}

Expected<int64_t> initWordEmbeddings(torch::nn::Module &model,
                                     const std::vector<std::vector<int32_t>> &lines,
                                     int64_t vocabSize,
                                     const PpmiSvdOptions &options) {
  // named_parameters() returns the dictionary by value: keep it alive.
  auto parameters = model.named_parameters();
  torch::Tensor *weight =
      parameters.find("bert.embeddings.word_embeddings.weight");
  if (!weight)
    return Error::failure("the model has no bert.embeddings.word_embeddings");
  if (weight->size(0) != vocabSize || weight->size(1) != options.dim)
    return Error::failure("the word embeddings are [" +
                          std::to_string(weight->size(0)) + ", " +
                          std::to_string(weight->size(1)) + "], the vectors [" +
                          std::to_string(vocabSize) + ", " +
                          std::to_string(options.dim) + "]");
  Expected<WordVectors> vectors = ppmiSvdVectors(lines, vocabSize, options);
  if (!vectors)
    return vectors.error();
  torch::Tensor known = vectors->known.nonzero().squeeze(1);
  if (known.size(0) == 0)
    return int64_t(0);
  torch::Tensor rows = vectors->vectors.index_select(0, known);
  rows = rows * (kInitializerRange / rows.std().item<double>());
  torch::NoGradGuard noGrad;
  weight->index_copy_(0, known, rows.to(weight->dtype()));
  return known.size(0);
}

} // namespace quantbert::train
