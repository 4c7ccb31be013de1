# SPDX-License-Identifier: MIT
# cmake --install: the layout of an installed mailroom (GNUInstallDirs).
#   ${sbindir}/mailroom                      the binary (an admin daemon)
#   ${sysconfdir}/mailroom/mailroom.conf     the config (never overwritten)
#   <systemd unit dir>/mailroom.service      the hardened unit
#   ${docdir}/                               README, docs/*.md
# (the man pages: cmake/man.cmake)
# With the default prefix /usr/local everything goes below it, the unit
# into /usr/local/lib/systemd/system (which systemd reads); with prefix /usr
# the unit goes where pkg-config's systemd.pc says (/lib/systemd/system on
# Debian 12). The unit names /usr/sbin/mailroom and
# /etc/mailroom/mailroom.conf; for another prefix the installed copy names
# the installed paths.
#
# MAILROOM_SYSTEM_CONFIG: the config the CLI reads without -c when there is
# no ./mailroom.conf (the Debian package: /etc/mailroom/mailroom.conf).
# Empty (the default): ./mailroom.conf or the built-in defaults (SPEC §6).
include(GNUInstallDirs)

set(MAILROOM_SYSTEM_CONFIG "" CACHE STRING
    "config read without -c when ./mailroom.conf is missing (empty: none)")
if(MAILROOM_SYSTEM_CONFIG)
  if(NOT IS_ABSOLUTE "${MAILROOM_SYSTEM_CONFIG}")
    message(FATAL_ERROR "MAILROOM_SYSTEM_CONFIG must be an absolute path")
  endif()
  target_compile_definitions(mailroom_core PUBLIC
                             MAILROOM_SYSTEM_CONFIG="${MAILROOM_SYSTEM_CONFIG}")
endif()

set(MAILROOM_SYSTEMD_UNITDIR "" CACHE PATH
    "where mailroom.service is installed (empty: from the prefix, see above)")
set(mailroom_unitdir "${MAILROOM_SYSTEMD_UNITDIR}")
if(NOT mailroom_unitdir AND CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  pkg_get_variable(mailroom_unitdir systemd systemdsystemunitdir)
endif()
if(NOT mailroom_unitdir)
  set(mailroom_unitdir "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
endif()

install(TARGETS mailroom RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})

# The unit with this install's paths in place of the packaged ones.
set(MAILROOM_CONF_FULL "${CMAKE_INSTALL_FULL_SYSCONFDIR}/mailroom/mailroom.conf")
file(READ ${CMAKE_SOURCE_DIR}/dist/mailroom.service MAILROOM_UNIT)
string(REPLACE "/usr/sbin/mailroom" "${CMAKE_INSTALL_FULL_SBINDIR}/mailroom"
       MAILROOM_UNIT "${MAILROOM_UNIT}")
string(REPLACE "/etc/mailroom/mailroom.conf" "${MAILROOM_CONF_FULL}"
       MAILROOM_UNIT "${MAILROOM_UNIT}")
string(REPLACE "/usr/share/doc/mailroom" "${CMAKE_INSTALL_FULL_DOCDIR}"
       MAILROOM_UNIT "${MAILROOM_UNIT}")
file(GENERATE OUTPUT ${CMAKE_BINARY_DIR}/dist/mailroom.service CONTENT "${MAILROOM_UNIT}")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
             ${CMAKE_SOURCE_DIR}/dist/mailroom.service)
install(FILES ${CMAKE_BINARY_DIR}/dist/mailroom.service
        DESTINATION ${mailroom_unitdir})

# The config: an admin's edited file is never replaced (a package manager
# has conffiles for that; a source install keeps what is there). The
# packaged one is also in ${docdir} as an example.
install(CODE "
  set(conf \"\$ENV{DESTDIR}${MAILROOM_CONF_FULL}\")
  if(EXISTS \"\${conf}\")
    message(STATUS \"Kept: \${conf}\")
  else()
    file(INSTALL \"${CMAKE_SOURCE_DIR}/dist/mailroom.conf\"
         DESTINATION \"${CMAKE_INSTALL_FULL_SYSCONFDIR}/mailroom\"
         FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
  endif()")

install(FILES README.md docs/admin.md docs/config.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES dist/mailroom.conf DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples)
