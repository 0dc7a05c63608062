#!/usr/bin/env bash
# nrnivmodl.sh -- run NEURON's nrnivmodl in an output folder, working around
# the three defects of Debian 12's NEURON 8.2.2 packaging (shared/neuron-debian.md):
#
#   1. nrnivmodl looks for nrnmech_makefile in $bindir (/usr/bin), but Debian
#      installs it in /usr/lib/nrn;
#   2. that makefile links with -L$(libdir) -lnrniv and libdir=/usr/lib, but
#      libnrniv.so lives in /usr/lib/nrn: passing libdir=... on the make command
#      line fixes both the -L and the rpath;
#   3. linking x86_64/special needs <ivstream.h>, which Debian's neuron-dev
#      dropped (libinterviews-dev has it; we do not rely on it and provide a
#      three-line shim through CPLUS_INCLUDE_PATH, which g++ searches before
#      the system folders: -I/usr/include is dropped as a system folder).
#
# We do not edit the system files: a patched copy of nrnivmodl (defects 1, 2)
# is written into the output folder and run there.  On an upstream NEURON
# (nrnmech_makefile next to nrnivmodl, libnrniv in $prefix/lib) the patch is a
# no-op in effect and the same script works.
#
# Usage:
#   nrnivmodl.sh -o OUTDIR [-nrnivmodl PATH] [-incflags "FLAGS"] [-loadflags "FLAGS"] FILE.mod|DIR ...
#
# Produces OUTDIR/x86_64/libnrnmech.so, OUTDIR/x86_64/.libs/libnrnmech.so (the
# copy nrniv -dll and neuron.load_mechanisms use) and OUTDIR/x86_64/special
# (x86_64 is nrnivmodl's MODSUBDIR, the build architecture).
# -incflags / -loadflags are passed to nrnivmodl unchanged; each takes ONE
# string (nrnivmodl keeps only the last of repeated options), e.g.
#   -incflags "-I/path/include" -loadflags "-L/path/lib -lneuromap -Wl,-rpath,/path/lib"
# Environment: NRNIVMODL (path of nrnivmodl), NRNMECH_MAKEFILE, NRN_LIBDIR
# override the detection below; NM_MAKE_JOBS sets make -j (default 2).
set -euo pipefail

die() { echo "nrnivmodl.sh: $*" >&2; exit 1; }

outdir=""
nrnivmodl="${NRNIVMODL:-}"
incflags=""
loadflags=""
while [ $# -gt 0 ]; do
    case "$1" in
    -o) [ $# -ge 2 ] || die "-o needs a folder"; outdir="$2"; shift 2;;
    -nrnivmodl) [ $# -ge 2 ] || die "-nrnivmodl needs a path"; nrnivmodl="$2"; shift 2;;
    -incflags) [ $# -ge 2 ] || die "-incflags needs one string"; incflags="$2"; shift 2;;
    -loadflags) [ $# -ge 2 ] || die "-loadflags needs one string"; loadflags="$2"; shift 2;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d'; exit 0;;
    --) shift; break;;
    -*) die "unknown option $1";;
    *) break;;
    esac
done
[ -n "$outdir" ] || die "no output folder (-o OUTDIR)"
[ $# -gt 0 ] || die "no mod files or folders given"

if [ -z "$nrnivmodl" ]; then
    nrnivmodl="$(command -v nrnivmodl || true)"
fi
[ -n "$nrnivmodl" ] && [ -x "$nrnivmodl" ] || die "nrnivmodl not found (install neuron-dev or set NRNIVMODL)"
nrn_bindir="$(cd "$(dirname "$nrnivmodl")" && pwd)"
nrn_prefix="$(dirname "$nrn_bindir")"

# Defect 1: where is nrnmech_makefile?
makefile="${NRNMECH_MAKEFILE:-}"
if [ -z "$makefile" ]; then
    for cand in "$nrn_bindir/nrnmech_makefile" "$nrn_prefix/lib/nrn/nrnmech_makefile" \
                "$nrn_prefix/share/nrn/nrnmech_makefile" "/usr/lib/nrn/nrnmech_makefile"; do
        if [ -f "$cand" ]; then makefile="$cand"; break; fi
    done
fi
[ -n "$makefile" ] && [ -f "$makefile" ] || die "nrnmech_makefile not found (set NRNMECH_MAKEFILE)"

# Defect 2: the folder holding libnrniv.so.
libdir="${NRN_LIBDIR:-}"
if [ -z "$libdir" ]; then
    for cand in "$nrn_prefix/lib" "$nrn_prefix/lib/nrn" "/usr/lib/nrn"; do
        if [ -e "$cand/libnrniv.so" ]; then libdir="$cand"; break; fi
    done
fi
[ -n "$libdir" ] && [ -e "$libdir/libnrniv.so" ] || die "libnrniv.so not found (set NRN_LIBDIR)"

# Mod files as absolute paths: nrnivmodl resolves relative ones from OUTDIR.
mods=()
for arg in "$@"; do
    if [ -d "$arg" ]; then
        for f in "$arg"/*.mod; do [ -e "$f" ] && mods+=("$(cd "$(dirname "$f")" && pwd)/$(basename "$f")"); done
    elif [ -f "$arg" ]; then
        mods+=("$(cd "$(dirname "$arg")" && pwd)/$(basename "$arg")")
    else
        die "no such mod file or folder: $arg"
    fi
done
[ ${#mods[@]} -gt 0 ] || die "no .mod files in: $*"

mkdir -p "$outdir"
outdir="$(cd "$outdir" && pwd)"
shimdir="$outdir/nrnivmodl-shim"
mkdir -p "$shimdir"

# Defect 3: ivstream.h shim (the same three includes Debian's InterViews header has).
cat > "$shimdir/ivstream.h.tmp" <<'EOF'
/* ivstream.h shim written by neuromap's scripts/nrnivmodl.sh: Debian's
 * neuron-dev no longer ships this InterViews header, which nrnconf.h
 * includes when linking x86_64/special. */
#pragma once
#include <iostream>
#include <fstream>
#include <sstream>
#define IOS_OUT std::ios::out
#define IOS_IN  std::ios::in
#define IOS_APP std::ios::app
EOF
mv "$shimdir/ivstream.h.tmp" "$shimdir/ivstream.h"

# Patched copy of nrnivmodl: fixed makefile path, libdir on the make command
# line, our -j.  Check that the patch took: a silent sed miss would bring the
# original failure back in a more confusing form.
jobs="${NM_MAKE_JOBS:-2}"
patched="$shimdir/nrnivmodl"
sed -e "s|\"\${bindir}/nrnmech_makefile\"|\"$makefile\" \"libdir=$libdir\"|" \
    -e "s|^make -j [0-9]* |make -j $jobs |" \
    "$nrnivmodl" > "$patched.tmp"
grep -q "\"$makefile\" \"libdir=$libdir\"" "$patched.tmp" \
    || die "could not patch $nrnivmodl (unexpected layout of the make line)"
chmod +x "$patched.tmp"
mv "$patched.tmp" "$patched"

cd "$outdir"
export CPLUS_INCLUDE_PATH="$shimdir${CPLUS_INCLUDE_PATH:+:$CPLUS_INCLUDE_PATH}"
args=()
[ -n "$incflags" ] && args+=(-incflags "$incflags")
[ -n "$loadflags" ] && args+=(-loadflags "$loadflags")
"$patched" "${args[@]+"${args[@]}"}" "${mods[@]}"

modsubdir="$(sed -n 's/^MODSUBDIR=//p' "$nrnivmodl" | head -n 1 | tr -d '"')"
lib="$outdir/${modsubdir:-x86_64}/.libs/libnrnmech.so"
[ -f "$lib" ] || die "nrnivmodl finished but $lib is missing"
echo "nrnivmodl.sh: built $lib"
