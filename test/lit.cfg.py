# lit configuration for quant-bert's compiler tests.
import os

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "QUANT_BERT"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir"]
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "Inputs", "Support",
                   "Runtime", "Unit"]

config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.qb_obj_root, "test")

config.substitutions.append(("%PATH%", config.environment["PATH"]))
config.substitutions.append(("%python", config.python_executable))
# Building C programs against the runtime and compiled models.
config.substitutions.append(("%cc", config.c_compiler))
config.substitutions.append(("%cflags", config.c_flags))
config.substitutions.append(("%runtime_include", config.runtime_include_dir))
config.substitutions.append(("%runtime_lib", config.runtime_lib_dir))
if config.qb_build_runtime:
    config.available_features.add("runtime")
llvm_config.with_system_environment(["HOME", "INCLUDE", "LIB", "TMP", "TEMP"])
llvm_config.use_default_substitutions()

# quant-bert's tools first, then LLVM's (FileCheck, not, split-file).
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.qb_tools_dir, append_path=True)

tool_dirs = [config.qb_tools_dir, config.llvm_tools_dir]
tools = [
    ToolSubst("quant-bert-opt", unresolved="fatal"),
    ToolSubst("quant-bert-translate", unresolved="fatal"),
    ToolSubst("quant-bert-compile", unresolved="fatal"),
    ToolSubst("mlir-translate", unresolved="fatal"),
    ToolSubst("split-file", unresolved="fatal"),
    ToolSubst("mlir-cpu-runner", unresolved="fatal"),
]
llvm_config.add_tool_substitutions(tools, tool_dirs)

# Runtime support libraries of mlir-cpu-runner (printMemrefF32 and friends)
# for the execution tests.
mlir_lib_dir = os.path.join(config.llvm_tools_dir, "..", "lib")
config.substitutions.append(("%mlir_c_runner_utils",
                             os.path.join(mlir_lib_dir, "libmlir_c_runner_utils.so")))
config.substitutions.append(("%mlir_runner_utils",
                             os.path.join(mlir_lib_dir, "libmlir_runner_utils.so")))
