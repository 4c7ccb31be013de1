#!/bin/sh
# SPDX-License-Identifier: MIT
# test.sh - build mailroom twice (plain, and ASan+UBSan) and run the whole
# suite on each: C unit tests, protocol tests with real clients, fuzz corpus
# replays; build every other configuration a user or packager builds (Debug,
# RelWithDebInfo, Release with gcc and with clang) and run its unit tests and
# corpus replays; then run every libFuzzer target briefly (clang build); then
# build the Debian package, lint it and test its install. Ends
# with one line "N passed, N failed" summing everything; a build that fails
# counts as a failure.
set -u
cd "$(dirname "$0")/.."
scripts/deps.sh test || exit 1

total_pass=0
total_fail=0
log=$(mktemp -d /tmp/mailroom-test.XXXXXX)

count_ctest() { # $1 = ctest output file
	line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$1" | tail -n 1)
	if [ -z "$line" ]; then
		total_fail=$((total_fail + 1))
		return
	fi
	failed=$(echo "$line" | sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/')
	all=$(echo "$line" | sed -E 's/.* out of ([0-9]+).*/\1/')
	total_pass=$((total_pass + all - failed))
	total_fail=$((total_fail + failed))
}

run_suite() { # $1 = build dir, $2 = label, rest = cmake options
	dir=$1 label=$2
	shift 2
	echo "== $label: building in $dir"
	if ! scripts/build.sh "$dir" "$@"; then
		echo "== $label: BUILD FAILED"
		total_fail=$((total_fail + 1))
		return
	fi
	echo "== $label: running ctest"
	(cd "$dir" && ctest --output-on-failure -j2 --timeout 600) > "$log/$label.out" 2>&1
	cat "$log/$label.out"
	count_ctest "$log/$label.out"
}

# Only sanitizer builds read these.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS UBSAN_OPTIONS

run_suite build plain
# the PostgreSQL engine runs under the sanitizers in its unit tests; its
# protocol tests (proto-pg/) run once, in the plain suite
run_suite build-asan asan -DMAILROOM_SANITIZE=ON -DMAILROOM_TEST_PG_PROTO=OFF

# The rest of the build matrix. -Werror makes every warning a failed build,
# and the optimisers' warnings differ by compiler and level (gcc -O3 alone
# reports format truncation it cannot prove at -O2). The protocol tests ran
# above; here the unit tests and corpus replays check the optimised code.
build_config() { # $1 = label, rest = cmake options
	label=$1
	shift
	dir=build-$label
	echo "== $label: building in $dir"
	if ! scripts/build.sh "$dir" "$@"; then
		echo "== $label: BUILD FAILED"
		total_fail=$((total_fail + 1))
		return
	fi
	total_pass=$((total_pass + 1)) # the build itself
	(cd "$dir" && ctest --output-on-failure -j2 --timeout 300 -R '^(unit|fuzz-replay)/') \
		> "$log/$label.out" 2>&1
	if grep -q '^100% tests passed' "$log/$label.out"; then
		grep -E '^(100% tests passed|Total Test time)' "$log/$label.out"
	else
		cat "$log/$label.out"
	fi
	count_ctest "$log/$label.out"
}
for cc in gcc clang; do
	for type in Debug RelWithDebInfo Release; do
		# the plain suite above is gcc's RelWithDebInfo
		[ "$cc-$type" = gcc-RelWithDebInfo ] && continue
		build_config "$cc-$(echo "$type" | tr 'A-Z' 'a-z')" \
			-DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE="$type"
	done
done
# What a Debian package build passes (dpkg-buildflags: -O2, _FORTIFY_SOURCE,
# stack protector, relro), with no build type of CMake's own.
build_config gcc-debian -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=None \
	-DCMAKE_C_FLAGS="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS)" \
	-DCMAKE_EXE_LINKER_FLAGS="$(dpkg-buildflags --get LDFLAGS)"

# libFuzzer: each target runs for FUZZ_SECONDS (default 20) from its corpus.
secs=${FUZZ_SECONDS:-20}
echo "== fuzz: building with clang"
if CC=clang scripts/build.sh build-fuzz -DMAILROOM_FUZZ=ON -DMAILROOM_SANITIZE=ON; then
	for t in build-fuzz/fuzz_*; do
		case "$t" in *_replay) continue ;; esac
		[ -x "$t" ] || continue
		name=$(basename "$t")
		work=$(mktemp -d "$log/$name.XXXX")
		cp -r "fuzz/corpus/$name/." "$work/" 2>/dev/null
		dict=""
		[ -f "fuzz/$name.dict" ] && dict="-dict=fuzz/$name.dict"
		if "$t" $dict -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
			"$work" > "$log/$name.log" 2>&1; then
			echo "fuzz $name: ok ($(grep -c . "$log/$name.log") log lines, ${secs}s)"
			total_pass=$((total_pass + 1))
		else
			echo "fuzz $name: FAILED"
			tail -n 40 "$log/$name.log"
			total_fail=$((total_fail + 1))
		fi
	done
else
	echo "== fuzz: BUILD FAILED"
	total_fail=$((total_fail + 1))
fi

# The Debian package: built in a copy of the tree (dpkg-buildpackage writes
# ../*.deb next to the source), checked by lintian (no error, no warning),
# then installed and served in a fresh bookworm root (tests/pkg/install-test.sh,
# root only). One pass or fail for each of the three.
package_check() { # $1 = label, rest = command; its output goes to $log/$1.out
	label=$1
	shift
	if "$@" > "$log/$label.out" 2>&1; then
		echo "package $label: ok"
		total_pass=$((total_pass + 1))
	else
		echo "package $label: FAILED"
		tail -n 40 "$log/$label.out"
		total_fail=$((total_fail + 1))
	fi
}
echo "== package: dpkg-buildpackage, lintian, install test"
pkg_t0=$(date +%s)
pkg=$(mktemp -d /var/tmp/mailroom-deb.XXXXXX)
mkdir "$pkg/src"
# not the build folders, nor run.sh's config and data
tar --exclude='./build' --exclude='./build-*' --exclude=./.git --exclude=./mailroom.conf \
	--exclude=./mailroom-data -cf - . | tar -C "$pkg/src" -xf -
package_check deb sh -c "cd '$pkg/src' && dpkg-buildpackage -us -uc -b"
deb=""
for f in "$pkg"/mailroom_*.deb; do
	[ -f "$f" ] && deb=$f
done
if [ -n "$deb" ]; then
	package_check lintian lintian --fail-on error,warning "$deb"
	if [ "$(id -u)" -eq 0 ]; then
		package_check install tests/pkg/install-test.sh "$deb"
	else
		echo "package install: skipped (debootstrap and chroot need root)"
	fi
else
	echo "package lintian, install: FAILED (no .deb)"
	total_fail=$((total_fail + 2))
fi
rm -rf "$pkg"
echo "package: $(($(date +%s) - pkg_t0)) s"

if [ $((total_pass + total_fail)) -eq 0 ]; then
	total_fail=1 # a suite that ran nothing has failed
fi
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
