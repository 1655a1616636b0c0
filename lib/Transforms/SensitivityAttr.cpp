//===- SensitivityAttr.cpp - sensitivity.json as a module attribute -------===//
//
// See quantbert/Transforms/SensitivityAttr.h.
//
//===----------------------------------------------------------------------===//

#include "quantbert/Transforms/SensitivityAttr.h"

using namespace mlir;

ArrayAttr quantbert::buildSensitivityAttr(Builder &builder,
                                          const SensitivityReport &report) {
  SmallVector<Attribute> entries;
  for (const ModuleSensitivity &measured : report.modules) {
    SmallVector<NamedAttribute> values;
    // precisionName spells the dialect's #qb.precision keywords.
    for (auto [precision, increase] : measured.sensitivity)
      values.push_back(builder.getNamedAttr(precisionName(precision),
                                            builder.getF64FloatAttr(increase)));
    entries.push_back(builder.getDictionaryAttr(
        {builder.getNamedAttr("layer", builder.getI64IntegerAttr(measured.layer)),
         builder.getNamedAttr(
             "module", builder.getStringAttr(bertModuleName(measured.module))),
         builder.getNamedAttr("sensitivity", builder.getDictionaryAttr(values))}));
  }
  return builder.getArrayAttr(entries);
}
