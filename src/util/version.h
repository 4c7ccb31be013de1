/* SPDX-License-Identifier: MIT */
/* version.h - the one place the release number is written; CMake's
 * project(VERSION) and debian/changelog carry the same number, and
 * tests/proto/test_man.py checks that they agree. */
#ifndef MAILROOM_UTIL_VERSION_H
#define MAILROOM_UTIL_VERSION_H

#define MAILROOM_VERSION "0.1.0"

#endif
