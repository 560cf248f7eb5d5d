# The benchmark programs (bench/, docs/PERFORMANCE.md) and the smoke run that keeps them working.
#   cashbench      the load generator (keep-alive, signed requests, second factor through the API)
#   cashseed       writes accounts and long histories straight into a SQLite database
#   sqlite_txbench the raw SQLite transaction that bounds a withdrawal (the storage reference)
# bench/run measures cashd against its references; the CTest smoke run only checks that
# everything runs and prints figures (no timed assertion).

find_path(HTTP_PARSER_INCLUDE_DIR http_parser.h)
find_library(HTTP_PARSER_LIBRARY http_parser)
if(NOT HTTP_PARSER_INCLUDE_DIR OR NOT HTTP_PARSER_LIBRARY)
  message(STATUS "bench: http_parser not found (libhttp-parser-dev); cashbench is not built")
  return()
endif()

add_executable(cashbench
  bench/cashbench.c bench/cashbench_run.c bench/cashbench_setup.c
  bench/bench_loop.c bench/bench_util.c)
target_include_directories(cashbench PRIVATE ${HTTP_PARSER_INCLUDE_DIR})
target_compile_definitions(cashbench PRIVATE _GNU_SOURCE)
target_compile_options(cashbench PRIVATE ${CASHD_WARNINGS} ${CASHD_SANITIZE})
target_link_options(cashbench PRIVATE ${CASHD_SANITIZE})
target_link_libraries(cashbench PRIVATE ${HTTP_PARSER_LIBRARY} PkgConfig::JANSSON
  OpenSSL::Crypto Threads::Threads)

# The seeding tool links cash_common (ids, crypto_seal) and cash_domain (fee, masking) only:
# it writes the rows itself, with the schema that `cashctl init` created.
add_executable(cashseed bench/cashseed.c)
target_link_libraries(cashseed PRIVATE cash_domain PkgConfig::SQLITE)

add_executable(sqlite_txbench bench/sqlite_txbench.c)
target_link_libraries(sqlite_txbench PRIVATE cash_common PkgConfig::SQLITE)

add_custom_target(bench DEPENDS cashd cashctl cashbench cashseed sqlite_txbench)

add_test(NAME bench.smoke
  COMMAND bash ${CMAKE_SOURCE_DIR}/bench/smoke $<TARGET_FILE_DIR:cashbench>)
set_tests_properties(bench.smoke PROPERTIES
  ENVIRONMENT "CASHD_TEST_TMP=${CMAKE_BINARY_DIR}/test-tmp"
  TIMEOUT 300)
