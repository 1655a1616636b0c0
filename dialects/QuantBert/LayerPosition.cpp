//===- LayerPosition.cpp - Which layer and module an op is in ------------===//
//
// Answers "which encoder layer and which module (attention / FFN) is this op
// in" from the qb.encoder_layer region that encloses it. Precision assignment
// and sensitivity-driven passes key their decisions on this.
//
//===----------------------------------------------------------------------===//

#include "QuantBert/QBOps.h"

using namespace mlir;

namespace quantbert::qb {

std::optional<LayerPosition> getLayerPosition(Operation *op) {
  for (Region *region = op->getParentRegion(); region;
       region = region->getParentRegion()) {
    auto layer = dyn_cast_or_null<EncoderLayerOp>(region->getParentOp());
    if (!layer)
      continue;
    LayerModule module = region == &layer.getAttention() ? LayerModule::attention
                                                         : LayerModule::ffn;
    int64_t index = static_cast<int64_t>(layer.getLayer()), group = index;
    if (auto attr = layer->getAttrOfType<IntegerAttr>(kLayerGroupAttrName))
      group = attr.getInt();
    return LayerPosition{index, module, group};
  }
  return std::nullopt;
}

} // namespace quantbert::qb
