# Fault tests (tests/fault): cashd killed with SIGKILL under load, restarted, and checked
# (issue "Reliability and security suite"). About 60-90 s on two cores; CASHD_FAULT_KILLS sets
# the number of kills (at least 20).
set(cashd_fault_env
  "CASHD_BIN=$<TARGET_FILE:cashd>;CASHCTL_BIN=$<TARGET_FILE:cashctl>;CASHD_TEST_TMP=${CMAKE_BINARY_DIR}/test-tmp")

add_test(NAME fault.sqlite.crash
  COMMAND ${Python3_EXECUTABLE} -m unittest -v test_crash
  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests/fault)
set_tests_properties(fault.sqlite.crash PROPERTIES
  ENVIRONMENT "${cashd_fault_env};CASHD_TEST_DB=sqlite" TIMEOUT 900)

# The same test on PostgreSQL: the server that cmake/postgres.cmake starts for the black-box
# suite (CTest fixture cashd_postgres; tests/pg/start writes its URL to pg/url in the build dir).
if(EXISTS ${CMAKE_SOURCE_DIR}/tests/pg/start)
  add_test(NAME fault.postgresql.crash
    COMMAND ${Python3_EXECUTABLE} -m unittest -v test_crash
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests/fault)
  set_tests_properties(fault.postgresql.crash PROPERTIES
    ENVIRONMENT
      "${cashd_fault_env};CASHD_TEST_DB=postgresql;CASHD_TEST_PG_URL_FILE=${CMAKE_BINARY_DIR}/pg/url"
    FIXTURES_REQUIRED cashd_postgres
    TIMEOUT 900)
endif()
