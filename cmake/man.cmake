# SPDX-License-Identifier: MIT
# The manual pages, generated after the binary by man/mkman.py (python3):
# mailroom(8) from man/mailroom.8.in and the binary's own --help texts, and
# mailroom.conf(5) from man/mailroom.conf.5.in and docs/config.md, so that
# neither can disagree with what it describes. Built as part of ALL into
# build/man/ and installed to ${CMAKE_INSTALL_MANDIR}/man8 and man5.
include(GNUInstallDirs)

set(MAILROOM_PYTHON /usr/bin/python3 CACHE FILEPATH "python3 that runs man/mkman.py")
set(MAN_DIR ${CMAKE_BINARY_DIR}/man)
set(MKMAN ${CMAKE_SOURCE_DIR}/man/mkman.py)

add_custom_command(
  OUTPUT ${MAN_DIR}/mailroom.8
  COMMAND ${CMAKE_COMMAND} -E make_directory ${MAN_DIR}
  COMMAND ${MAILROOM_PYTHON} ${MKMAN} verbs $<TARGET_FILE:mailroom>
          ${CMAKE_SOURCE_DIR}/man/mailroom.8.in ${MAN_DIR}/mailroom.8
  DEPENDS mailroom ${MKMAN} ${CMAKE_SOURCE_DIR}/man/mailroom.8.in
  COMMENT "Generating man/mailroom.8"
  VERBATIM)
add_custom_command(
  OUTPUT ${MAN_DIR}/mailroom.conf.5
  COMMAND ${CMAKE_COMMAND} -E make_directory ${MAN_DIR}
  COMMAND ${MAILROOM_PYTHON} ${MKMAN} config $<TARGET_FILE:mailroom>
          ${CMAKE_SOURCE_DIR}/docs/config.md ${CMAKE_SOURCE_DIR}/man/mailroom.conf.5.in
          ${MAN_DIR}/mailroom.conf.5
  DEPENDS mailroom ${MKMAN} ${CMAKE_SOURCE_DIR}/man/mailroom.conf.5.in
          ${CMAKE_SOURCE_DIR}/docs/config.md
  COMMENT "Generating man/mailroom.conf.5"
  VERBATIM)
add_custom_target(man ALL DEPENDS ${MAN_DIR}/mailroom.8 ${MAN_DIR}/mailroom.conf.5)

install(FILES ${MAN_DIR}/mailroom.8 DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES ${MAN_DIR}/mailroom.conf.5 DESTINATION ${CMAKE_INSTALL_MANDIR}/man5)
