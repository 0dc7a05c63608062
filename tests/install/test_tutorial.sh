#!/usr/bin/env bash
# test_tutorial.sh BUILD -- docs/tutorial.md's program runs from an installed
# tree, outside the source tree (issue 14 item 4 and its target).
#
# Installs BUILD with `cmake --install BUILD --prefix P` into a temporary
# folder outside the source tree (under ${TMPDIR:-/tmp}), takes the tutorial's
# program (the ```python block of docs/tutorial.md, as written: no
# substitutions) into a fresh folder there, and runs it with /usr/bin/python3
# (NM_NEURON_PYTHON) from that folder with PYTHONPATH at the prefix's Python
# folder only.  That stands for the tutorial's install to /usr/local, whose
# Python folder /usr/bin/python3 searches by itself (checked here) while a
# temporary prefix is not on sys.path.  No NEUROMAP_* variable, no
# LD_LIBRARY_PATH, no path into the source or build tree.
#
# Asserts: the program exits 0 in under NM_TUTORIAL_TIMEOUT seconds (default
# 240), prints a rate line for each current, the learned cell fires (> 20 Hz),
# its rate is within 15% of the hh soma's and its follower's within 20% of the
# soma's follower (the tutorial prints 69/67 and 86/87 Hz), and libneuromap and
# libnrnmech came from the prefix only.
#
# Environment (tests/install/CMakeLists.txt): NM_SOURCE_DIR, NM_INSTALL_LIBDIR, NM_INSTALL_PYDIR;
# NM_NRNIV and NM_NEURON_PYTHON when NEURON is there (else: exit 77, skipped).
# The scratch folder is removed on success and kept (its path printed) on failure.
set -euo pipefail

build="$(cd "$1" && pwd)"
src="$(cd "${NM_SOURCE_DIR:?NM_SOURCE_DIR not set}" && pwd)"
pydir_rel="${NM_INSTALL_PYDIR:?NM_INSTALL_PYDIR not set}"
timeout_s="${NM_TUTORIAL_TIMEOUT:-240}"
work=""

fail() { echo "FAIL: $*"; [ -n "$work" ] && echo "(scratch kept: $work)"; exit 1; }
ok() { echo "  ok: $*"; }

case "$pydir_rel" in
/*) echo "SKIP: NM_PYTHON_INSTALL_DIR is absolute ($pydir_rel)"; exit 77;;
esac
if [ -z "${NM_NRNIV:-}" ]; then
    echo "SKIP: NEURON mechanisms not built: the tutorial needs NEURON"
    exit 77
fi
py="${NM_NEURON_PYTHON:-/usr/bin/python3}"

# The program: the one ```python block of docs/tutorial.md.
doc="$src/docs/tutorial.md"
[ -f "$doc" ] || fail "$doc not found"
nblocks="$(grep -c '^```python' "$doc")"
[ "$nblocks" = 1 ] || fail "docs/tutorial.md has $nblocks python blocks, expected 1 (the program)"

work="$(mktemp -d "${TMPDIR:-/tmp}/nm-tutorial-test.XXXXXX")"
case "$work/" in
"$src"/*|"$build"/*) fail "scratch folder $work is inside the source or build tree (set TMPDIR)";;
esac
prefix="$work/prefix"
unset NEUROMAP_LIB NEUROMAP_MECHDIR PYTHONPATH LD_LIBRARY_PATH PYTHONHOME

cmake --install "$build" --prefix "$prefix" > "$work/install.log" 2>&1 \
    || { cat "$work/install.log"; fail "cmake --install $build --prefix $prefix"; }
pydir="$prefix/$pydir_rel"
[ -f "$pydir/neuromap/_install.py" ] || fail "no installed package at $pydir"
mech="$prefix/${NM_INSTALL_LIBDIR:-lib}/neuromap/x86_64/.libs/libnrnmech.so"
[ -f "$mech" ] || fail "no installed NEURON mechanisms ($mech)"
ok "cmake --install into $prefix"

# The default install (prefix /usr/local) needs no PYTHONPATH: its Python
# folder is on /usr/bin/python3's sys.path.
"$py" -c 'import sys; sys.exit(0 if sys.argv[1] in sys.path else 1)' "/usr/local/$pydir_rel" \
    || fail "/usr/local/$pydir_rel is not on $py's sys.path: the tutorial would need PYTHONPATH"
ok "/usr/local/$pydir_rel is on $py's sys.path"

run="$work/mytutorial"
mkdir -p "$run"
awk '/^```python/ {on = 1; next} on && /^```/ {on = 0} on' "$doc" > "$run/tutorial.py"
nlines="$(wc -l < "$run/tutorial.py")"
[ "$nlines" -le 40 ] || fail "the tutorial's program has $nlines lines, more than 40"
grep -qF "$src" "$run/tutorial.py" && fail "the tutorial's program names the source tree"
ok "tutorial.py: $nlines lines from docs/tutorial.md"

cd "$run"
start=$SECONDS
set +e
PYTHONPATH="$pydir" timeout "$timeout_s" "$py" -X faulthandler -c '
import runpy, sys
runpy.run_path("tutorial.py", run_name="__main__")
maps = [l.split()[-1] for l in open("/proc/self/maps") if len(l.split()) >= 6]
for name in ("libneuromap.so", "libnrnmech.so"):
    paths = sorted({p for p in maps if p.rsplit("/", 1)[-1].startswith(name)})
    print("mapped %s: %s" % (name, " ".join(paths)))
' > out.txt 2>&1
rc=$?
set -e
took=$((SECONDS - start))
cat out.txt
[ "$rc" = 0 ] || fail "the tutorial's program exited $rc after $took s (124: the ${timeout_s} s timeout)"
ok "the tutorial ran in $took s"

prefix_real="$(readlink -f "$prefix")"
for name in libneuromap.so libnrnmech.so; do
    line="$(grep "^mapped $name: " out.txt)" || fail "$name was not loaded"
    for p in ${line#mapped $name: }; do
        case "$(readlink -f "$p")" in
        "$prefix_real"/*) ;;
        *) fail "$name mapped from $p, not from the prefix $prefix";;
        esac
    done
done
ok "libneuromap and libnrnmech loaded from the prefix only"

"$py" - out.txt <<'EOF' || fail "the tutorial's numbers are off (see above)"
import re, sys
rows = re.findall(r"^I = ([\d.]+) nA: hh soma +([\d.]+) Hz, learned cell +([\d.]+) Hz; "
                  r"followers +([\d.]+) and +([\d.]+) Hz$", open(sys.argv[1]).read(), re.M)
if [r[0] for r in rows] != ["0.10", "0.20"]:
    sys.exit("FAIL: expected a rate line for I = 0.10 and 0.20 nA, got %s" % rows)
bad = []
for amp, soma, learned, f_soma, f_learned in ([float(x) for x in r] for r in rows):
    if learned <= 20:
        bad.append("I = %g: the learned cell fires at %g Hz" % (amp, learned))
    if abs(learned - soma) > 0.15 * soma:
        bad.append("I = %g: learned %g Hz vs soma %g Hz (more than 15%% apart)" % (amp, learned, soma))
    if f_soma <= 0 or abs(f_learned - f_soma) > 0.20 * f_soma:
        bad.append("I = %g: followers %g vs %g Hz (more than 20%% apart)" % (amp, f_learned, f_soma))
    print("  I = %g nA: soma %g Hz, learned %g Hz (%+.1f%%); followers %g, %g Hz"
          % (amp, soma, learned, 100 * (learned - soma) / soma, f_soma, f_learned))
if bad:
    sys.exit("FAIL: " + "; ".join(bad))
EOF
ok "the learned cell fires within 15% of the soma's rate at 0.1 and 0.2 nA"
cd /
rm -rf "$work"
echo "PASS"
