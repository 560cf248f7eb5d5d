# Fuzzing: the libFuzzer harnesses of tests/fuzz, built with clang (libFuzzer is clang's) in their
# own build directory by tests/fuzz/run, then each run by CTest for CASHD_FUZZ_SECONDS.
#
# CASHD_FUZZ is ON by default and then clang with libFuzzer must be there (scripts/install-deps
# installs clang and libclang-rt-14-dev): configuring fails loudly rather than skipping the fuzz
# tests in silence. -DCASHD_FUZZ=OFF leaves them out on purpose.
option(CASHD_FUZZ "Build and run the libFuzzer harnesses in CTest (needs clang and libFuzzer)" ON)
set(CASHD_FUZZ_SECONDS 20 CACHE STRING "Seconds CTest fuzzes each harness")

if(CASHD_FUZZ_HARNESSES)
  # This is the clang build made by tests/fuzz/run: the harness programs, no tests.
  add_subdirectory(${CMAKE_SOURCE_DIR}/tests/fuzz ${CMAKE_BINARY_DIR}/fuzz)
  return()
endif()

if(NOT CASHD_FUZZ)
  message(STATUS "fuzz: CASHD_FUZZ is OFF: the fuzz harnesses are neither built nor run")
  return()
endif()

find_program(CASHD_FUZZ_CC NAMES clang clang-14 clang-15 clang-16)
if(NOT CASHD_FUZZ_CC)
  message(FATAL_ERROR "fuzz: clang was not found. Install it and libFuzzer (scripts/install-deps: "
                      "clang libclang-rt-14-dev), or configure with -DCASHD_FUZZ=OFF.")
endif()

# Proves that this clang links a libFuzzer program with ASan + UBSan before any test relies on it.
set(cashd_fuzz_probe_dir ${CMAKE_BINARY_DIR}/fuzz-probe)
file(MAKE_DIRECTORY ${cashd_fuzz_probe_dir})
file(WRITE ${cashd_fuzz_probe_dir}/probe.c
  "#include <stddef.h>\n#include <stdint.h>\n"
  "int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);\n"
  "int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)\n"
  "{ return size > 0 && data[0] == 1 ? 0 : 0; }\n")
execute_process(
  COMMAND ${CASHD_FUZZ_CC} -fsanitize=fuzzer,address,undefined ${cashd_fuzz_probe_dir}/probe.c
          -o ${cashd_fuzz_probe_dir}/probe
  RESULT_VARIABLE cashd_fuzz_probe_result
  OUTPUT_VARIABLE cashd_fuzz_probe_output
  ERROR_VARIABLE cashd_fuzz_probe_output)
if(NOT cashd_fuzz_probe_result EQUAL 0)
  message(FATAL_ERROR "fuzz: ${CASHD_FUZZ_CC} cannot link a libFuzzer program "
                      "(-fsanitize=fuzzer,address,undefined). Install libclang-rt-14-dev "
                      "(scripts/install-deps), or configure with -DCASHD_FUZZ=OFF.\n"
                      "${cashd_fuzz_probe_output}")
endif()
message(STATUS "fuzz: ${CASHD_FUZZ_CC} links libFuzzer; each harness runs ${CASHD_FUZZ_SECONDS} s")

set(cashd_fuzz_run ${CMAKE_SOURCE_DIR}/tests/fuzz/run)
set(cashd_fuzz_env
  "CASHD_FUZZ_CC=${CASHD_FUZZ_CC};CASHD_FUZZ_BUILD_DIR=${CMAKE_BINARY_DIR}/build-fuzz;CMAKE=${CMAKE_COMMAND}")

add_test(NAME fuzz.build COMMAND ${cashd_fuzz_run} build)
set_tests_properties(fuzz.build PROPERTIES
  ENVIRONMENT "${cashd_fuzz_env}" FIXTURES_SETUP cashd_fuzz_build TIMEOUT 900)

foreach(harness auth_header iso8601 json_body query router)
  add_test(NAME fuzz.${harness} COMMAND ${cashd_fuzz_run} run fuzz_${harness} ${CASHD_FUZZ_SECONDS})
  math(EXPR cashd_fuzz_timeout "${CASHD_FUZZ_SECONDS} * 3 + 120")
  set_tests_properties(fuzz.${harness} PROPERTIES
    ENVIRONMENT "${cashd_fuzz_env}" FIXTURES_REQUIRED cashd_fuzz_build
    TIMEOUT ${cashd_fuzz_timeout})
endforeach()
