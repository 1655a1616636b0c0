# RunConsumer.cmake: the install test. Installs the `runtime` component of
# BUILD_DIR into WORK_DIR/prefix, then builds and runs main.c against it
# twice: as a CMake project with find_package(QuantBert), and with the flags
# `pkg-config --cflags --libs quantbert_rt` gives. Any failure is fatal.
#
# Inputs: BUILD_DIR WORK_DIR SOURCE_DIR GENERATOR C_COMPILER C_FLAGS VOCAB.
set(prefix ${WORK_DIR}/prefix)
file(REMOVE_RECURSE ${WORK_DIR})

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    string(REPLACE ";" " " command "${ARGN}")
    message(FATAL_ERROR "failed (${rc}): ${command}")
  endif()
endfunction()

run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix}
    --component runtime)

# 1. find_package(QuantBert).
run(${CMAKE_COMMAND} -G ${GENERATOR} -S ${SOURCE_DIR} -B ${WORK_DIR}/build
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_C_COMPILER=${C_COMPILER}
    "-DCMAKE_C_FLAGS=${C_FLAGS}")
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run(${WORK_DIR}/build/qbrt-consumer ${VOCAB})

# 2. pkg-config, from wherever GNUInstallDirs put the .pc file.
find_program(PKG_CONFIG pkg-config REQUIRED)
file(GLOB_RECURSE pc_file ${prefix}/quantbert_rt.pc)
if(NOT pc_file)
  message(FATAL_ERROR "quantbert_rt.pc was not installed under ${prefix}")
endif()
get_filename_component(pc_dir ${pc_file} DIRECTORY)
set(ENV{PKG_CONFIG_PATH} ${pc_dir})
execute_process(COMMAND ${PKG_CONFIG} --cflags --libs quantbert_rt
  OUTPUT_VARIABLE pc_flags OUTPUT_STRIP_TRAILING_WHITESPACE
  RESULT_VARIABLE rc)
execute_process(COMMAND ${PKG_CONFIG} --variable=libdir quantbert_rt
  OUTPUT_VARIABLE pc_libdir OUTPUT_STRIP_TRAILING_WHITESPACE)
if(NOT rc EQUAL 0 OR NOT pc_flags MATCHES "-lquantbert_rt")
  message(FATAL_ERROR "pkg-config --cflags --libs quantbert_rt: '${pc_flags}'")
endif()
message(STATUS "pkg-config quantbert_rt: ${pc_flags}")
separate_arguments(pc_flags UNIX_COMMAND "${pc_flags}")
separate_arguments(c_flags UNIX_COMMAND "${C_FLAGS}")
run(${C_COMPILER} ${c_flags} ${SOURCE_DIR}/main.c ${pc_flags} -lm
    -Wl,-rpath,${pc_libdir} -o ${WORK_DIR}/qbrt-consumer-pc)
run(${WORK_DIR}/qbrt-consumer-pc ${VOCAB})
