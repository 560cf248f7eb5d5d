# PostgreSQL runs: every black-box test (tests/blackbox/test_*.py, the files added later too) and
# every store unit test (tests/unit/store/test_*.c) a second time, on a real PostgreSQL server.
#
# The CTest fixture cashd_postgres starts that server before the first of them (pg.start:
# tests/pg/start initialises a new cluster under the build directory and starts it on a private
# port and unix socket) and stops it and removes the cluster after the last (pg.stop). The tests
# read the server's URL from the file tests/pg/start writes. The two fixture steps count as tests.
set(CASHD_PG_DIR ${CMAKE_BINARY_DIR}/pg)
set(CASHD_PG_URL_FILE ${CASHD_PG_DIR}/url)

add_test(NAME pg.start COMMAND ${CMAKE_SOURCE_DIR}/tests/pg/start ${CASHD_PG_DIR})
set_tests_properties(pg.start PROPERTIES FIXTURES_SETUP cashd_postgres TIMEOUT 300)
add_test(NAME pg.stop COMMAND ${CMAKE_SOURCE_DIR}/tests/pg/stop ${CASHD_PG_DIR})
set_tests_properties(pg.stop PROPERTIES FIXTURES_CLEANUP cashd_postgres TIMEOUT 300)

set(cashd_pg_env
  "CASHD_TEST_DB=postgresql;CASHD_TEST_PG_URL_FILE=${CASHD_PG_URL_FILE};CASHD_TEST_TMP=${CMAKE_BINARY_DIR}/test-tmp")

file(GLOB cashd_pg_blackbox CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/blackbox/test_*.py)
foreach(source ${cashd_pg_blackbox})
  get_filename_component(name ${source} NAME_WE)
  add_test(NAME blackbox.postgresql.${name}
    COMMAND ${Python3_EXECUTABLE} -m unittest -v ${name}
    WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests/blackbox)
  set_tests_properties(blackbox.postgresql.${name} PROPERTIES
    ENVIRONMENT "CASHD_BIN=$<TARGET_FILE:cashd>;CASHCTL_BIN=$<TARGET_FILE:cashctl>;${cashd_pg_env}"
    FIXTURES_REQUIRED cashd_postgres
    TIMEOUT 600)
endforeach()

file(GLOB cashd_pg_store_tests CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/tests/unit/store/test_*.c)
# test_sqlite_*.c test what only the SQLite backend has (group commit): not run again here.
list(FILTER cashd_pg_store_tests EXCLUDE REGEX "/test_sqlite_[^/]*[.]c$")
foreach(source ${cashd_pg_store_tests})
  get_filename_component(name ${source} NAME_WE)
  add_test(NAME unit.store.postgresql.${name} COMMAND ${name})
  set_tests_properties(unit.store.postgresql.${name} PROPERTIES
    ENVIRONMENT "${cashd_pg_env}"
    FIXTURES_REQUIRED cashd_postgres
    TIMEOUT 300)
endforeach()
