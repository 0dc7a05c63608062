#!/usr/bin/env bash
# `neuromap compare`: a tiny model is trained here (seconds), then compared
# with the SRK truth on a coarse grid; the table must be consistent with
# itself and with `neuromap sweep`, the summary with the table, the ISI file
# with the sweep, the recorded-truth paths (--truth-table, --truth-series)
# must agree with the built-in one, the plot must be drawn (or fail with a
# clear message and the CSV kept), and every bad input must give a message
# and a non-zero exit.  Also runs the Python model-file reader test
# (tests/python/test_modelfile_py.py) on the trained model.
# Usage: test_compare_cli.sh NEUROMAP SCRATCH_DIR
set -u
NM="$1"
D="$2"
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY=/usr/bin/python3
rm -rf "$D" && mkdir -p "$D"
source "$(dirname "${BASH_SOURCE[0]}")/testlib.sh"

# --- a tiny model: 3 series of 30 s, small networks, few epochs (< 1 s).
# It is a poor model on purpose-free grounds (cheap); with these settings it
# shows silent, periodic and (in the long check) unbounded points, but no
# assertion below depends on what it learned: they check consistency.
for p in -42 -38 -31; do
  "$NM" simulate --model srk --p "$p" --duration 30000 --out "$D/s$p.csv" >/dev/null 2>&1 ||
    fail "simulate at $p"
done
"$NM" train --series "$D/s-42.csv" --p -42 --series "$D/s-38.csv" --p -38 --series "$D/s-31.csv" --p -31 \
  --vae-epochs 8 --map-epochs 5 --rollout 10 --rollout-iters 60 --hidden 32,32 --map-hidden 32,32 \
  --quiet --out "$D/m.nmap" >/dev/null 2>&1 || fail "train the tiny model"
[ -s "$D/m.nmap" ] || { echo "no model: cannot go on"; exit 1; }

# The coarse grid and a short protocol keep the test at a few seconds.
GRID=(--p-min -46 --p-max -30 --p-step 2)
RUN=(--duration 20000 --transient 10000 --bound-steps 8000 --quiet)
NP=9

# --- CSV: header, one row per grid point, match recomputed from the columns
"$NM" compare "$D/m.nmap" --truth srk "${GRID[@]}" "${RUN[@]}" --format csv --isis "$D/isis.csv" \
  >"$D/c.csv" 2>"$D/c.summary" || fail "compare (csv): $(cat "$D/c.summary")"
[ "$(head -1 "$D/c.csv")" = "p,truth_regime,truth_period_ms,learned_regime,learned_period_ms,match" ] ||
  fail "csv header: $(head -1 "$D/c.csv")"
[ "$(tail -n +2 "$D/c.csv" | wc -l)" -eq "$NP" ] || fail "csv has $(tail -n +2 "$D/c.csv" | wc -l) rows, want $NP"
bad_match=$(awk -F, 'NR > 1 {
    m = ($2 == $4);
    if (m && $2 ~ /^periodic/) { d = $5 - $3; if (d < 0) d = -d; m = (d <= 0.25 * $3) }
    if (m != $6) print $1 }' "$D/c.csv")
[ -z "$bad_match" ] || fail "match column inconsistent with the regimes at p = $bad_match"
nmatch=$(awk -F, 'NR > 1 { s += $6 } END { print s + 0 }' "$D/c.csv")
grep -qF "agreement: $nmatch/$NP = " "$D/c.summary" || fail "summary agreement is not $nmatch/$NP: $(cat "$D/c.summary")"
grep -qE "^bounded runs: [0-9]+/$NP \(8000 map steps each" "$D/c.summary" || fail "bounded-run line"
grep -qF "training p: -42 -38 -31" "$D/c.summary" || fail "training p from the model file"
grep -qF "transitions truth:" "$D/c.summary" && grep -qF "transitions learned:" "$D/c.summary" ||
  fail "transition lines"
# a metrics row at each training p, each value a number or n/a
for p in -42 -38 -31; do
  grep -qE "^ +$p +(silent|periodic:[0-9]+|irregular) +(silent|periodic:[0-9]+|irregular|diverged) +([0-9.]+|n/a) +([0-9.]+|n/a) +([0-9.]+|n/a) +([0-9.]+|n/a) +simulated" \
    "$D/c.summary" || fail "metrics row at p = $p: $(grep -E "^ +$p " "$D/c.summary")"
done
# The truth column is what `neuromap sweep` says (an independent code path).
"$NM" sweep --model srk "${GRID[@]}" --duration 20000 --transient 10000 --format csv --quiet --out "$D/sweep.csv" ||
  fail "sweep"
diff <(cut -d, -f1,2 "$D/sweep.csv" | tail -n +2) <(cut -d, -f1,2 "$D/c.csv" | tail -n +2) >/dev/null ||
  fail "truth regimes differ from neuromap sweep"

# --- the ISI file: both sides, a regime row per point, ISIs of truth = sweep's spikes - 1
[ "$(grep -v '^#' "$D/isis.csv" | head -1)" = "side,p,isi_ms,regime" ] || fail "isis header"
grep -qF "# train_p: -42,-38,-31" "$D/isis.csv" || fail "isis: train_p comment"
for side in truth learned; do
  n=$(grep -c "^$side,[^,]*,," "$D/isis.csv")
  [ "$n" -eq "$NP" ] || fail "isis: $n regime rows for $side, want $NP"
done
while IFS=, read -r p reg _ _ spikes _; do
  [ "$p" = "p" ] && continue
  n=$(awk -F, -v p="$p" '$1 == "truth" && $2 == p && $3 != "" { c++ } END { print c + 0 }' "$D/isis.csv")
  want=$((spikes > 0 ? spikes - 1 : 0))
  [ "$n" -eq "$want" ] || fail "isis: $n truth ISIs at p = $p, the sweep saw $spikes spikes"
done <"$D/sweep.csv"

# --- the readable table (default) and --out: same regimes, written atomically
"$NM" compare "$D/m.nmap" --truth srk "${GRID[@]}" "${RUN[@]}" --out "$D/c.txt" >"$D/c.stdout" 2>&1 ||
  fail "compare --out"
[ "$(grep -cE '^ +-?[0-9.]+ +(silent|periodic|irregular)' "$D/c.txt")" -eq "$NP" ] || fail "table rows in --out"
grep -qF "agreement: $nmatch/$NP" "$D/c.stdout" || fail "summary on stdout with --out"
ls "$D"/c.txt.tmp.* >/dev/null 2>&1 && fail "temporary file left behind"

# --- recorded truth: the sweep CSV as --truth-table gives the same table
"$NM" compare "$D/m.nmap" --truth-table "$D/sweep.csv" "${RUN[@]}" --format csv >"$D/t.csv" 2>"$D/t.summary" ||
  fail "compare --truth-table: $(cat "$D/t.summary")"
diff <(cut -d, -f1,2,4,6 "$D/c.csv") <(cut -d, -f1,2,4,6 "$D/t.csv") >/dev/null ||
  fail "--truth-table table differs from --truth srk"
grep -qF "metrics: skipped (a recorded truth has no traces" "$D/t.summary" ||
  fail "--truth-table without series: metrics must be skipped with a note"
grep -q "^metrics (truth vs learned" "$D/t.summary" && fail "--truth-table without series printed metrics"
# The model against its own recorded regimes: every point that did not
# diverge matches.  With the recorded (truth) periods scaled by s, a periodic
# point matches iff |L - sL| <= 0.25 sL, i.e. |1/s - 1| <= 0.25: s = 1.3
# (23%) and 0.81 (23.5%) match, s = 1.36 (26.5%) and 0.79 (26.6%) do not.
for scale in 1 1.3 1.36 0.81 0.79; do
  awk -F, -v s="$scale" 'BEGIN { print "p,regime,period_ms" }
       NR > 1 && $4 != "diverged" { printf "%s,%s,%s\n", $1, $4, ($5 == "" ? "" : $5 * s) }' \
    "$D/c.csv" >"$D/self$scale.csv"
  "$NM" compare "$D/m.nmap" --truth-table "$D/self$scale.csv" "${RUN[@]}" --format csv >"$D/self$scale.out" 2>/dev/null ||
    fail "compare with its own table (x$scale)"
  bad=$(awk -F, -v s="$scale" 'NR > 1 { r = 1 / s - 1; if (r < 0) r = -r
                                        want = ($2 !~ /^periodic/ || r <= 0.25); if ($6 != want) print $1 }' \
    "$D/self$scale.out")
  [ -z "$bad" ] || fail "own regimes, periods x$scale: wrong match at p = $bad"
done
[ "$(grep -c ',periodic:' "$D/self1.csv")" -gt 0 ] || echo "note: the tiny model has no periodic point here"
# ... with a recorded truth trace: metrics at its p
"$NM" compare "$D/m.nmap" --truth-table "$D/sweep.csv" --truth-series "$D/s-38.csv" --p -38 "${RUN[@]}" \
  >"$D/ts.txt" 2>&1 || fail "compare --truth-series: $(cat "$D/ts.txt")"
grep -qE "^ +-38 +\(recorded\) .*$D/s-38.csv" "$D/ts.txt" || fail "metrics row from the recorded series"

# --- the truth alone (no model)
"$NM" compare --truth srk "${GRID[@]}" "${RUN[@]}" --format csv --isis "$D/truth_isis.csv" >"$D/to.csv" 2>/dev/null ||
  fail "truth-only compare"
[ "$(head -1 "$D/to.csv")" = "p,truth_regime,truth_period_ms" ] || fail "truth-only header"
grep -q "^learned," "$D/truth_isis.csv" && fail "truth-only isis has learned rows"

# --- plots (only where matplotlib is there; otherwise the message is checked)
if "$PY" -c "import matplotlib" 2>/dev/null; then
  "$NM" compare "$D/m.nmap" --truth srk "${GRID[@]}" "${RUN[@]}" --plot "$D/cmp.png" >/dev/null 2>"$D/plot.err" ||
    fail "compare --plot: $(cat "$D/plot.err")"
  [ "$(head -c 8 "$D/cmp.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] || fail "cmp.png is not a PNG"
  [ -s "$D/cmp.isis.csv" ] || fail "--plot without --isis writes cmp.isis.csv"
  "$NM" compare --truth srk "${GRID[@]}" "${RUN[@]}" --plot "$D/truth.png" >/dev/null 2>&1 && [ -s "$D/truth.png" ] ||
    fail "truth-only plot"
  PYTHONPATH="$SRC/python" "$PY" -m neuromap.plots "$D/c.csv" -o "$D/x.png" 2>"$D/x.err"
  [ $? -eq 2 ] && grep -qF "lacks column(s) side" "$D/x.err" || fail "plots.py on a wrong CSV: $(cat "$D/x.err")"
  # matplotlib missing: a fake package that fails to import, through a wrapper interpreter
  mkdir -p "$D/nompl/matplotlib"
  echo 'raise ImportError("no matplotlib here")' >"$D/nompl/matplotlib/__init__.py"
  printf '#!/bin/sh\nPYTHONPATH="%s:$PYTHONPATH" exec %s "$@"\n' "$D/nompl" "$PY" >"$D/py_nompl"
  chmod +x "$D/py_nompl"
  rm -f "$D/n.png" "$D/n.isis.csv"
  NEUROMAP_PYTHON="$D/py_nompl" expect_fail 1 "has no matplotlib" -- \
    "$NM" compare "$D/m.nmap" --truth srk "${GRID[@]}" "${RUN[@]}" --plot "$D/n.png"
  [ -s "$D/n.isis.csv" ] || fail "ISI CSV not kept when matplotlib is missing"
  [ -e "$D/n.png" ] && fail "a PNG without matplotlib?"
fi
NEUROMAP_PYTHON="$D/no-such-python" expect_fail 1 "cannot run $D/no-such-python" -- \
  "$NM" compare --truth srk "${GRID[@]}" "${RUN[@]}" --plot "$D/q.png"
[ -s "$D/q.isis.csv" ] || fail "ISI CSV not kept when python is missing"

# --- bad inputs
M="$D/m.nmap"
expect_fail 2 "ground truth is required" -- "$NM" compare "$M" "${GRID[@]}"
expect_fail 2 "not both" -- "$NM" compare "$M" --truth srk --truth-table "$D/sweep.csv" "${GRID[@]}"
expect_fail 2 "unknown model" -- "$NM" compare "$M" --truth fitzhugh "${GRID[@]}"
expect_fail 2 "--p-min, --p-max and --p-step are all required" -- "$NM" compare "$M" --truth srk --p-min -46
expect_fail 2 "--p-step must be > 0" -- "$NM" compare "$M" --truth srk --p-min -46 --p-max -30 --p-step 0
expect_fail 2 "is below --p-min" -- "$NM" compare "$M" --truth srk --p-min -30 --p-max -46 --p-step 1
expect_fail 2 "--p-step: 'x' is not a finite number" -- "$NM" compare "$M" --truth srk --p-min -46 --p-max -30 --p-step x
expect_fail 2 "more than 100000 points" -- "$NM" compare "$M" --truth srk --p-min 0 --p-max 1 --p-step 1e-9
expect_fail 2 "--format must be table or csv" -- "$NM" compare "$M" --truth srk "${GRID[@]}" --format json
expect_fail 2 "--stsp-dim must be 1..3" -- "$NM" compare "$M" --truth srk "${GRID[@]}" --stsp-dim 4
expect_fail 2 "one MODEL at most" -- "$NM" compare "$M" "$M" --truth srk "${GRID[@]}"
expect_fail 2 "grid is the table's p column" -- "$NM" compare "$M" --truth-table "$D/sweep.csv" "${GRID[@]}"
expect_fail 2 "--p -38 must follow a --truth-series" -- "$NM" compare "$M" --truth srk "${GRID[@]}" --p -38
expect_fail 2 "has no --p VALUE" -- "$NM" compare "$M" --truth srk "${GRID[@]}" --truth-series "$D/s-38.csv"
expect_fail 2 "'--bogus' is unknown" -- "$NM" compare "$M" --truth srk "${GRID[@]}" --bogus
expect_fail 1 "$D/none.nmap: cannot open" -- "$NM" compare "$D/none.nmap" --truth srk "${GRID[@]}"
expect_fail 1 "not a neuromap model file" -- "$NM" compare "$D/sweep.csv" --truth srk "${GRID[@]}"
# a corrupted model: one byte flipped in the payload of the last entry (just before
# the 4-byte checksum trailer); a byte of an entry header would be reported as the
# structural error it makes (truncated, impossible count) before the checksum
cp "$M" "$D/bad.nmap"
size=$(stat -c %s "$D/bad.nmap")
printf '\x55' | dd of="$D/bad.nmap" bs=1 seek=$((size - 6)) conv=notrunc status=none
expect_fail 1 "checksum mismatch" -- "$NM" compare "$D/bad.nmap" --truth srk "${GRID[@]}"
head -c $((size - 100)) "$M" >"$D/cut.nmap"
expect_fail 1 "truncated" -- "$NM" compare "$D/cut.nmap" --truth srk "${GRID[@]}"
# truth tables
printf 'VS,regime\n-40,silent\n' >"$D/nop.csv"
expect_fail 1 "missing 'p'" -- "$NM" compare "$M" --truth-table "$D/nop.csv"
printf 'p,spikes\n-40,3\n' >"$D/noreg.csv"
expect_fail 1 "missing 'regime'" -- "$NM" compare "$M" --truth-table "$D/noreg.csv"
printf 'p,regime\n-40,bursting\n' >"$D/badreg.csv"
expect_fail 1 "badreg.csv:2: column 'regime': 'bursting'" -- "$NM" compare "$M" --truth-table "$D/badreg.csv"
expect_fail 1 "$D/nothere.csv: cannot open" -- "$NM" compare "$M" --truth-table "$D/nothere.csv"
expect_fail 1 "nothere.csv" -- "$NM" compare "$M" --truth-table "$D/sweep.csv" --truth-series "$D/nothere.csv" --p -38
# output that cannot be written: message, no file
expect_fail 1 "$D/no/dir/c.txt" -- "$NM" compare "$M" --truth srk "${GRID[@]}" "${RUN[@]}" --out "$D/no/dir/c.txt"
expect_fail 1 "$D/no/dir/i.csv" -- "$NM" compare "$M" --truth srk "${GRID[@]}" "${RUN[@]}" --isis "$D/no/dir/i.csv"
"$NM" compare --help >/dev/null || fail "compare --help"
"$NM" help compare >/dev/null || fail "help compare"

# --- the Python model-file reader on this model (and through libneuromap,
# unless the library is sanitizer-instrumented: it cannot be loaded into
# an uninstrumented python)
LIB="$(dirname "$NM")/../lib/libneuromap.so"
PYARGS=("$D/py")
if [ -e "$LIB" ] && ! ldd "$LIB" 2>/dev/null | grep -q libasan; then PYARGS+=(--lib "$LIB"); fi
"$PY" "$SRC/tests/python/test_modelfile_py.py" "${PYARGS[@]}" "$M" || fail "test_modelfile_py.py"

finish "compare CLI"
