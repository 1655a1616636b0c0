//===- DialectTest.cpp - Tests of the qb dialect's C++ API ---------------===//
//
// Checks what lit cannot see directly: getLayerPosition answers "which layer
// and which module is this op in" for ops nested in qb.encoder_layer, and
// LinearOp::getRoleModule maps Hugging Face roles to modules.
//
//===----------------------------------------------------------------------===//

#include "QuantBert/QBOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace quantbert::qb;

namespace {

constexpr const char *kTwoLayers = R"mlir(
func.func @encoder(%x: tensor<2x8x16xf32>, %mask: tensor<2x8xi32>,
                   %w: tensor<16x16xf32>, %g: tensor<16xf32>) -> tensor<2x8x16xf32> {
  %e = qb.linear %x, %w role<classifier> : (tensor<2x8x16xf32>, tensor<16x16xf32>) -> tensor<2x8x16xf32>
  %l0 = qb.encoder_layer layer 0 (%e, %mask) : (tensor<2x8x16xf32>, tensor<2x8xi32>) -> tensor<2x8x16xf32>
  attention {
  ^bb0(%h: tensor<2x8x16xf32>, %m: tensor<2x8xi32>):
    %q = qb.linear %h, %w role<query> : (tensor<2x8x16xf32>, tensor<16x16xf32>) -> tensor<2x8x16xf32>
    qb.yield %q : tensor<2x8x16xf32>
  } ffn {
  ^bb0(%a: tensor<2x8x16xf32>):
    %o = qb.linear %a, %w role<output> : (tensor<2x8x16xf32>, tensor<16x16xf32>) -> tensor<2x8x16xf32>
    qb.yield %o : tensor<2x8x16xf32>
  }
  %l1 = qb.encoder_layer layer 1 (%l0, %mask) : (tensor<2x8x16xf32>, tensor<2x8xi32>) -> tensor<2x8x16xf32>
  attention {
  ^bb0(%h: tensor<2x8x16xf32>, %m: tensor<2x8xi32>):
    %n = qb.layer_norm %h, %g, %g : tensor<2x8x16xf32>, tensor<16xf32>, tensor<16xf32>
    qb.yield %n : tensor<2x8x16xf32>
  } ffn {
  ^bb0(%a: tensor<2x8x16xf32>):
    %i = qb.linear %a, %w role<intermediate> : (tensor<2x8x16xf32>, tensor<16x16xf32>) -> tensor<2x8x16xf32>
    qb.yield %i : tensor<2x8x16xf32>
  }
  return %l1 : tensor<2x8x16xf32>
}
)mlir";

class QBDialectTest : public ::testing::Test {
protected:
  QBDialectTest() {
    context.loadDialect<QBDialect, func::FuncDialect>();
    module = parseSourceString<ModuleOp>(kTwoLayers, &context);
  }
  MLIRContext context;
  OwningOpRef<ModuleOp> module;
};

TEST_F(QBDialectTest, LayerPositionOfNestedOps) {
  ASSERT_TRUE(module);
  std::vector<std::tuple<std::string, std::optional<LayerPosition>>> seen;
  module->walk([&](Operation *op) {
    if (isa<LinearOp, LayerNormOp>(op))
      seen.emplace_back(op->getName().getStringRef().str(), getLayerPosition(op));
  });
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_FALSE(std::get<1>(seen[0]).has_value()); // the classifier, outside
  auto expect = [&](size_t i, int64_t layer, LayerModule module) {
    std::optional<LayerPosition> position = std::get<1>(seen[i]);
    ASSERT_TRUE(position.has_value()) << "op " << i;
    EXPECT_EQ(position->layer, layer) << "op " << i;
    EXPECT_EQ(position->module, module) << "op " << i;
  };
  expect(1, 0, LayerModule::attention);
  expect(2, 0, LayerModule::ffn);
  expect(3, 1, LayerModule::attention);
  expect(4, 1, LayerModule::ffn);
}

TEST_F(QBDialectTest, RoleModule) {
  ASSERT_TRUE(module);
  std::vector<std::optional<LayerModule>> modules;
  module->walk([&](LinearOp op) { modules.push_back(op.getRoleModule()); });
  ASSERT_EQ(modules.size(), 4u);
  EXPECT_EQ(modules[0], std::nullopt);         // classifier
  EXPECT_EQ(modules[1], LayerModule::attention); // query
  EXPECT_EQ(modules[2], LayerModule::ffn);       // output
  EXPECT_EQ(modules[3], LayerModule::ffn);       // intermediate
}

} // namespace
