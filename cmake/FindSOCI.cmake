# FindSOCI — SOCI 4.0.x as packaged by Debian 12 ships neither a CMake config
# nor a pkg-config file, so we locate headers and libraries by hand and make
# our own imported targets: SOCI::core, SOCI::sqlite3, SOCI::postgresql,
# SOCI::mysql. Components not found are simply absent.
include(FindPackageHandleStandardArgs)

find_path(SOCI_INCLUDE_DIR soci/soci.h)
find_library(SOCI_CORE_LIBRARY NAMES soci_core)

set(_soci_backends sqlite3 postgresql mysql)
# The backends' headers expose their client libraries' C APIs, and libshard
# calls a little of each (SQLite: sqlite3_config, the busy handler, extended
# result codes; libpq: PQsocket; MariaDB: mysql_get_socket, for the
# statement-timeout watchdog), so SOCI::<backend> also links the client
# library itself.
find_library(SOCI_NATIVE_sqlite3_LIBRARY NAMES sqlite3)
find_library(SOCI_NATIVE_postgresql_LIBRARY NAMES pq)
find_library(SOCI_NATIVE_mysql_LIBRARY NAMES mariadb mysqlclient)
foreach(_b IN LISTS _soci_backends)
  find_library(SOCI_${_b}_LIBRARY NAMES soci_${_b})
  if(SOCI_${_b}_LIBRARY)
    set(SOCI_${_b}_FOUND TRUE)
  endif()
endforeach()

find_package_handle_standard_args(SOCI
  REQUIRED_VARS SOCI_CORE_LIBRARY SOCI_INCLUDE_DIR
  HANDLE_COMPONENTS)

if(SOCI_FOUND AND NOT TARGET SOCI::core)
  add_library(SOCI::core UNKNOWN IMPORTED)
  set_target_properties(SOCI::core PROPERTIES
    IMPORTED_LOCATION "${SOCI_CORE_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${SOCI_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES "${CMAKE_DL_LIBS}")
  foreach(_b IN LISTS _soci_backends)
    if(SOCI_${_b}_FOUND)
      set(_soci_links SOCI::core)
      if(SOCI_NATIVE_${_b}_LIBRARY)
        list(APPEND _soci_links "${SOCI_NATIVE_${_b}_LIBRARY}")
      endif()
      add_library(SOCI::${_b} UNKNOWN IMPORTED)
      set_target_properties(SOCI::${_b} PROPERTIES
        IMPORTED_LOCATION "${SOCI_${_b}_LIBRARY}"
        INTERFACE_LINK_LIBRARIES "${_soci_links}")
    endif()
  endforeach()
endif()
mark_as_advanced(SOCI_INCLUDE_DIR SOCI_CORE_LIBRARY SOCI_NATIVE_sqlite3_LIBRARY
  SOCI_NATIVE_postgresql_LIBRARY SOCI_NATIVE_mysql_LIBRARY)
