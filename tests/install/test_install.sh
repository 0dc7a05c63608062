#!/usr/bin/env bash
# test_install.sh BUILD -- the installed tree works on its own (issue 14).
#
# Installs BUILD with `cmake --install BUILD --prefix P` into a temporary
# folder outside the source tree (under ${TMPDIR:-/tmp}), then, from there:
#   1. the layout: library with SONAME, header, command, pkg-config and CMake
#      files, share/neuromap/{mod,hoc,examples}, the Python package with its
#      _install.py; no installed RUNPATH names the build folder;
#   2. a C program (user/app.c) built with pkg-config and with
#      find_package(neuromap) (user/CMakeLists.txt) runs: SRK bursts, and the
#      learned map of the fixture model runs;
#   3. NEURON (skipped with status 77 when the mechanisms are not built): a
#      user's mod folder (user/nmprobe.mod) built with the installed
#      neuromap-nrnivmodl; nrniv there runs user/run_learned.hoc (LearnedCells
#      fire); /usr/bin/python3 with PYTHONPATH at the prefix's Python folder
#      only runs user/run_learned.py (the package finds the installed library
#      and mechanisms by itself; a LearnedCell fires as the offline run).
#
# Environment (tests/install/CMakeLists.txt): NM_SOURCE_DIR, NM_INSTALL_LIBDIR,
# NM_INSTALL_PYDIR; with NEURON: NM_NRNIV, NRNIVMODL, NM_NEURON_PYTHON,
# NM_FIXTURE_MODEL.  The scratch folder is removed on success and kept (its
# path printed) on failure.
set -euo pipefail

build="$(cd "$1" && pwd)"
src="$(cd "${NM_SOURCE_DIR:?NM_SOURCE_DIR not set}" && pwd)"
libdir_rel="${NM_INSTALL_LIBDIR:-lib}"
pydir_rel="${NM_INSTALL_PYDIR:?NM_INSTALL_PYDIR not set}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

fail() { echo "FAIL: $*"; echo "(scratch kept: $work)"; exit 1; }
ok() { echo "  ok: $*"; }
# loads_installed BIN: BIN resolves libneuromap.so.0 to the installed one.
loads_installed() {
    local got
    got="$(ldd "$1" | sed -n 's/^[[:space:]]*libneuromap\.so\.0 => \(.*\) (0x.*/\1/p')"
    [ -n "$got" ] && [ "$(readlink -f "$got")" = "$(readlink -f "$libdir/libneuromap.so.0")" ] \
        || fail "$1 loads libneuromap.so.0 from '${got:-nowhere}', not from $libdir"
}

case "$pydir_rel" in
/*) echo "SKIP: NM_PYTHON_INSTALL_DIR is absolute ($pydir_rel): installing into a temporary" \
         "prefix would write outside it"; exit 77;;
esac

work="$(mktemp -d "${TMPDIR:-/tmp}/nm-install-test.XXXXXX")"
case "$work/" in
"$src"/*|"$build"/*) fail "scratch folder $work is inside the source or build tree (set TMPDIR)";;
esac
prefix="$work/prefix"
# Nothing from the caller's environment may point at a build tree.
unset NEUROMAP_LIB NEUROMAP_MECHDIR PYTHONPATH LD_LIBRARY_PATH PKG_CONFIG_PATH CMAKE_PREFIX_PATH

cmake --install "$build" --prefix "$prefix" > "$work/install.log" 2>&1 \
    || { cat "$work/install.log"; fail "cmake --install $build --prefix $prefix"; }
ok "cmake --install into $prefix"

# ---- 1. layout ----------------------------------------------------------
libdir="$prefix/$libdir_rel"
pydir="$prefix/$pydir_rel"
for f in include/neuromap.h bin/neuromap bin/neuromap-nrnivmodl "$libdir_rel/libneuromap.so" \
         "$libdir_rel/libneuromap.so.0" "$libdir_rel/pkgconfig/neuromap.pc" \
         "$libdir_rel/cmake/neuromap/neuromapConfig.cmake" \
         "$libdir_rel/cmake/neuromap/neuromapConfigVersion.cmake" \
         "$libdir_rel/cmake/neuromap/neuromapTargets.cmake" \
         share/neuromap/mod/neuromap_cell.mod share/neuromap/mod/neuromap_clamp.mod \
         share/neuromap/mod/srk.mod share/neuromap/hoc/learned_cell.hoc \
         share/neuromap/hoc/srk_cell.hoc share/neuromap/examples/learned_ring.hoc \
         "$pydir_rel/neuromap/__init__.py" "$pydir_rel/neuromap/runtime.py" \
         "$pydir_rel/neuromap/_install.py"; do
    [ -e "$prefix/$f" ] || fail "not installed: $f"
done
[ -x "$prefix/bin/neuromap-nrnivmodl" ] || fail "bin/neuromap-nrnivmodl is not executable"
ok "layout"
soname="$(readelf -d "$libdir/libneuromap.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')"
[ "$soname" = libneuromap.so.0 ] || fail "SONAME of libneuromap.so is '$soname', not libneuromap.so.0"
ok "SONAME $soname"
while IFS= read -r -d '' f; do
    if [ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ]; then
        if readelf -d "$f" | grep -E '\((RPATH|RUNPATH)\)' | grep -qF "$build"; then
            fail "$f has a RUNPATH into the build folder: $(readelf -d "$f" | grep -E 'R(UN)?PATH')"
        fi
    elif grep -qF "$build" "$f"; then
        fail "$f names the build folder $build"
    fi
done < <(find "$prefix" -type f -print0)
ok "no installed file refers to the build folder"

out="$("$prefix/bin/neuromap" --version)" || fail "bin/neuromap --version"
[ "$out" = "neuromap 0.1.0" ] || fail "bin/neuromap --version printed '$out'"
loads_installed "$prefix/bin/neuromap"
ok "bin/neuromap runs with the installed library"

# ---- 2. a C program against the installed library -----------------------
user="$work/user"
mkdir -p "$user/app"
cp "$here/user/app.c" "$here/user/CMakeLists.txt" "$user/app/"
model="${NM_FIXTURE_MODEL:-}"
[ -n "$model" ] && [ -f "$model" ] || model=""
cd "$user/app"

export PKG_CONFIG_PATH="$libdir/pkgconfig"
[ "$(pkg-config --modversion neuromap)" = 0.1.0 ] || fail "pkg-config --modversion neuromap"
pkg-config --static --libs neuromap | grep -q -- '-lgsl' || fail "pkg-config --static lacks -lgsl"
pkg-config --static --libs neuromap | grep -q -- '-lopenblas' || fail "pkg-config --static lacks -lopenblas"
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror -o app_pc app.c $(pkg-config --cflags --libs neuromap) \
    -Wl,-rpath,"$(pkg-config --variable=libdir neuromap)" || fail "cc app.c with pkg-config"
loads_installed ./app_pc
./app_pc ${model:+"$model"} || fail "app built with pkg-config"
unset PKG_CONFIG_PATH
ok "pkg-config: app.c built and ran"

cmake -S . -B build -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release > cmake.log 2>&1 \
    || { cat cmake.log; fail "find_package(neuromap): configure"; }
grep -qF "neuromap_DIR=$libdir/cmake/neuromap" cmake.log \
    || fail "find_package found another neuromap: $(grep neuromap_DIR cmake.log)"
cmake --build build > build.log 2>&1 || { cat build.log; fail "find_package(neuromap): build"; }
loads_installed build/app
./build/app ${model:+"$model"} || fail "app built with find_package(neuromap)"
ok "find_package(neuromap): app.c built and ran"

# ---- 3. NEURON ----------------------------------------------------------
mech="$libdir/neuromap/x86_64/.libs/libnrnmech.so"
if [ -z "${NM_NRNIV:-}" ] || [ ! -f "$mech" ]; then
    echo "SKIP: NEURON mechanisms not built: the NEURON part of the install test is skipped"
    rm -rf "$work"
    exit 77
fi
[ -n "$model" ] || fail "no fixture model (NM_FIXTURE_MODEL=${NM_FIXTURE_MODEL:-})"
readelf -d "$mech" | grep -E 'R(UN)?PATH' | grep -qF '$ORIGIN/../../..' \
    || fail "installed libnrnmech.so lacks the \$ORIGIN RUNPATH: $(readelf -d "$mech" | grep -E 'R(UN)?PATH')"

mkdir -p "$user/mymod"
cp "$here/user/nmprobe.mod" "$here/user/run_learned.hoc" "$user/mymod/"
cp "$here/user/run_learned.py" "$user/"
cd "$user/mymod"
"$prefix/bin/neuromap-nrnivmodl" > nrnivmodl.log 2>&1 \
    || { tail -n 30 nrnivmodl.log; fail "neuromap-nrnivmodl in a user's mod folder"; }
grep -q "1 file(s) of yours, 3 of neuromap's" nrnivmodl.log \
    || fail "neuromap-nrnivmodl did not take nmprobe.mod + neuromap's 3: $(head -n 3 nrnivmodl.log)"
userlib="$user/mymod/x86_64/.libs/libnrnmech.so"
[ -f "$userlib" ] || fail "neuromap-nrnivmodl did not build $userlib"
ok "neuromap-nrnivmodl built the user's folder"
hoc_out="$("$NM_NRNIV" -nogui -nobanner -c 'strdef NM_SHARE, NM_MODEL' \
    -c "{NM_SHARE = \"$prefix/share/neuromap\"}" -c "{NM_MODEL = \"$model\"}" run_learned.hoc 2>&1)" \
    || { echo "$hoc_out"; fail "nrniv run_learned.hoc in the user's folder"; }
echo "$hoc_out"
echo "$hoc_out" | grep -q '^PASS' || fail "run_learned.hoc did not pass"

# From a folder without x86_64/ (nothing auto-loaded): the installed
# mechanisms, found by the package itself.
py="${NM_NEURON_PYTHON:-/usr/bin/python3}"
mkdir -p "$user/elsewhere"
cd "$user/elsewhere"
PYTHONPATH="$pydir" "$py" "$user/run_learned.py" "$prefix" "$model" \
    || fail "run_learned.py with the installed package"
# A hoc user of the installed mechanisms (nrniv -dll) and templates: the
# installed example, as docs/install.md shows it.
ring_out="$("$NM_NRNIV" -nogui -nobanner -dll "$mech" -c 'strdef MODEL, NM_ROOT' \
    -c "{MODEL = \"$model\"}" -c "{NM_ROOT = \"$prefix/share/neuromap\"}" \
    "$prefix/share/neuromap/examples/learned_ring.hoc" -c 'quit()' 2>&1)" \
    || { echo "$ring_out"; fail "the installed examples/learned_ring.hoc"; }
echo "$ring_out" | grep -q '^wrote learned_ring_spikes.txt' \
    || { echo "$ring_out"; fail "the installed examples/learned_ring.hoc wrote no spikes"; }
ok "the installed examples/learned_ring.hoc runs on the installed mechanisms"
cd /
rm -rf "$work"
echo "PASS"
