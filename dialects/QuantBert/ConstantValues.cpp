//===- ConstantValues.cpp - Reading constant weights --------------------===//
//
// Reads the elements of constant tensors, whether stored inline (dense) or as
// dense_resource blobs (how the importer stores weights), so folders and
// passes can quantize and pack weights at compile time.
//
//===----------------------------------------------------------------------===//

#include "QuantBert/QBOps.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Matchers.h"

using namespace mlir;

namespace quantbert::qb {

std::optional<SmallVector<float>> readConstantFloats(Attribute attr) {
  if (auto dense = dyn_cast_if_present<DenseElementsAttr>(attr)) {
    if (!isa<FloatType>(dense.getElementType()))
      return std::nullopt;
    SmallVector<float> values;
    values.reserve(dense.getNumElements());
    for (APFloat value : dense.getValues<APFloat>()) {
      bool losesInfo = false;
      value.convert(APFloat::IEEEsingle(), APFloat::rmNearestTiesToEven,
                    &losesInfo);
      values.push_back(value.convertToFloat());
    }
    return values;
  }
  if (auto resource = dyn_cast_if_present<DenseF32ResourceElementsAttr>(attr)) {
    std::optional<ArrayRef<float>> data = resource.tryGetAsArrayRef();
    if (!data)
      return std::nullopt;
    return SmallVector<float>(data->begin(), data->end());
  }
  return std::nullopt;
}

std::optional<SmallVector<float>> getConstantFloats(Value value) {
  Attribute attr;
  if (!matchPattern(value, m_Constant(&attr)))
    return std::nullopt;
  return readConstantFloats(attr);
}

std::optional<SmallVector<int8_t>> getConstantInt8s(Value value) {
  Attribute attr;
  if (!matchPattern(value, m_Constant(&attr)))
    return std::nullopt;
  if (auto dense = dyn_cast<DenseElementsAttr>(attr)) {
    if (!dense.getElementType().isInteger(8))
      return std::nullopt;
    auto values = dense.getValues<int8_t>();
    return SmallVector<int8_t>(values.begin(), values.end());
  }
  if (auto resource = dyn_cast<DenseI8ResourceElementsAttr>(attr)) {
    std::optional<ArrayRef<int8_t>> data = resource.tryGetAsArrayRef();
    if (!data)
      return std::nullopt;
    return SmallVector<int8_t>(data->begin(), data->end());
  }
  return std::nullopt;
}

} // namespace quantbert::qb
