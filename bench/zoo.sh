#!/usr/bin/env bash
# bench/zoo.sh -- train with defaults and compare every zoo case (docs/zoo.md).
#
#   bench/zoo.sh [--group dev|heldout|all] [--cases a,b] [--seeds 1,2,3] [--noise 0,1]
#                [--out DIR] [--bin NEUROMAP] [-- TRAIN_ARGS...]
#
# For every case of bench/zoo_cases.txt in the group, every noise level (SD of white
# measurement noise on the training series, mV) and every seed:
#   1. simulate the training series (noise seed 1000*seed + series index, so each seed
#      sees its own noise realisation; clean series are the same for every seed);
#   2. `neuromap train` with only --series/--p (plus TRAIN_ARGS) and --seed;
#   3. `neuromap compare` against the built-in truth on the case's grid.
# Prints one line per run (case, noise, seed, agreement, transitions found, training time)
# and, at the end, the table again with the mean and the worst run per case and noise.
# Writes DIR/zoo.csv.  The held-out group is for reporting only: decide on dev.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GROUP=dev
CASES=""
SEEDS="1,2,3,4,5"
NOISES="0,1"
OUT="$ROOT/out/zoo"
NM="$ROOT/build/bin/neuromap"
CASEFILE="$ROOT/bench/zoo_cases.txt"
EXTRA=()
usage() { sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --group) GROUP="$2"; shift 2 ;;
    --cases) CASES="$2"; shift 2 ;;
    --seeds) SEEDS="$2"; shift 2 ;;
    --noise) NOISES="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --bin) NM="$2"; shift 2 ;;
    --case-file) CASEFILE="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; EXTRA=("$@"); break ;;
    *) echo "zoo.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$GROUP" in dev|heldout|all) ;; *) echo "zoo.sh: --group must be dev, heldout or all (got '$GROUP')" >&2; exit 2 ;; esac
[ -x "$NM" ] || { echo "zoo.sh: no neuromap binary at $NM (run scripts/build.sh first)" >&2; exit 1; }
[ -r "$CASEFILE" ] || { echo "zoo.sh: cannot read the case file $CASEFILE" >&2; exit 1; }
mkdir -p "$OUT"
export OPENBLAS_NUM_THREADS=1
CSV="$OUT/zoo.csv"
echo "case,group,noise_mv,seed,agreement_pct,matched,points,transitions_found,transitions,train_s" > "$CSV.tmp"

# simulate-args of a case's params column: NAME=VAL,... -> --param NAME=VAL (rtol/atol: --rtol V)
sim_params() {
  local item out=()
  [ "$1" = "-" ] && return 0
  IFS=',' read -ra items <<< "$1"
  for item in "${items[@]}"; do
    case "${item%%=*}" in
      rtol|atol) out+=("--${item%%=*}" "${item#*=}") ;;
      *) out+=(--param "$item") ;;
    esac
  done
  printf '%s\n' "${out[@]}"
}

printf "%-10s %-8s %5s %4s %10s %12s %8s\n" case group noise seed agreement transitions train_s
while read -r name model params train_p gmin gmax gstep dt dur trans thr group rest; do
  case "$name" in ''|\#*) continue ;; esac
  [ "$GROUP" = all ] || [ "$group" = "$GROUP" ] || continue
  if [ -n "$CASES" ] && [[ ",$CASES," != *",$name,"* ]]; then continue; fi
  mapfile -t P < <(sim_params "$params")
  IFS=',' read -ra TP <<< "$train_p"
  IFS=',' read -ra NZ <<< "$NOISES"
  IFS=',' read -ra SD <<< "$SEEDS"
  # Truth parameters for compare (rtol/atol are integrator settings, not model parameters).
  truth_params=()
  for ((i = 0; i < ${#P[@]}; i++)); do
    [ "${P[$i]}" = "--param" ] && truth_params+=(--param "${P[$((i + 1))]}")
  done
  if [ "$model" = neuron_hh ]; then
    # A NEURON hh soma under IClamp, p = amplitude (nA): series from bench/zoo_neuron_hh.py
    # (params NAME=VAL -> --NAME VAL, e.g. method=cvode), truth = its regime table on the
    # grid, recorded once per noise-free protocol (and neuromap binary, script) and cached
    # in DIR/NAME/.
    /usr/bin/python3 -c "import neuron" 2> /dev/null ||
      { echo "zoo.sh: case $name needs NEURON's Python module in /usr/bin/python3" >&2; exit 1; }
    NHH=(--dt "$dt" --duration "$dur" --transient "$trans")
    if [ "$params" != "-" ]; then
      IFS=',' read -ra items <<< "$params"
      for item in "${items[@]}"; do NHH+=("--${item%%=*}" "${item#*=}"); done
    fi
    key=$( { printf '%s ' "${NHH[@]}" "$gmin" "$gmax" "$gstep" "$thr"
             cat "$NM" "$ROOT/bench/zoo_neuron_hh.py" "$ROOT/python/neuromap/record.py"; } |
           md5sum | cut -c1-12)
    nhh_truth="$OUT/$name/truth_$key.csv"
    if [ ! -s "$nhh_truth" ]; then
      mkdir -p "$OUT/$name"
      /usr/bin/python3 "$ROOT/bench/zoo_neuron_hh.py" truth "${NHH[@]}" --p-min "$gmin" \
        --p-max "$gmax" --p-step "$gstep" --threshold "$thr" --neuromap "$NM" --out "$nhh_truth" > /dev/null
    fi
  fi
  for nz in "${NZ[@]}"; do
    for seed in "${SD[@]}"; do
      dir="$OUT/$name/noise$nz/seed$seed"
      mkdir -p "$dir"
      args=()
      k=0
      if [ "$model" = neuron_hh ]; then
        # recorded in NEURON (bench/zoo_neuron_hh.py); noise seed 1000*seed + series index
        /usr/bin/python3 "$ROOT/bench/zoo_neuron_hh.py" series "${NHH[@]}" --p "$train_p" \
          --noise-mv "$nz" --seed $((1000 * seed)) --out "$dir" > /dev/null
        for p in "${TP[@]}"; do args+=(--series "$dir/series_$p.csv" --p "$p"); done
      else
      for p in "${TP[@]}"; do
        f="$dir/series_$p.csv"
        "$NM" simulate --model "$model" ${P[@]+"${P[@]}"} --p "$p" --duration "$dur" --dt "$dt" \
          --transient "$trans" --noise-mv "$nz" --seed $((1000 * seed + k)) --out "$f"
        args+=(--series "$f" --p "$p")
        k=$((k + 1))
      done
      fi
      t0=$(date +%s.%N)
      if ! "$NM" train "${args[@]}" --seed "$seed" ${EXTRA[@]+"${EXTRA[@]}"} --out "$dir/model.nmap" \
           2> "$dir/train.log"; then
        echo "zoo.sh: training failed for $name noise $nz seed $seed (log: $dir/train.log)" >&2
        tail -3 "$dir/train.log" >&2
        echo "$name,$group,$nz,$seed,NA,NA,NA,NA,NA,NA" >> "$CSV.tmp"
        continue
      fi
      t1=$(date +%s.%N)
      if [ "$model" = neuron_hh ]; then
        "$NM" compare "$dir/model.nmap" --truth-table "$nhh_truth" --dt "$dt" --duration "$dur" \
          --transient "$trans" --quiet --out "$dir/compare.txt" > "$dir/summary.txt"
      else
      "$NM" compare "$dir/model.nmap" --truth "$model" ${truth_params[@]+"${truth_params[@]}"} \
        --p-min "$gmin" --p-max "$gmax" --p-step "$gstep" --dt "$dt" --duration "$dur" \
        --transient "$trans" --quiet --out "$dir/compare.txt" > "$dir/summary.txt"
      fi
      agr=$(grep -m1 '^agreement:' "$dir/summary.txt" | sed -E 's#agreement: ([0-9]+)/([0-9]+) = ([0-9.]+)%.*#\1 \2 \3#')
      read -r matched points pct <<< "$agr"
      # transitions of the truth, and how many the learned system has (offset lines that are not 'not found')
      ntr=$(awk '/^transition offsets/{f=1; next} f && /^  /{n++} f && !/^  /{f=0} END{print n+0}' "$dir/summary.txt")
      nnf=$(awk '/^transition offsets/{f=1; next} f && /^  / && /not found/{n++} f && !/^  /{f=0} END{print n+0}' "$dir/summary.txt")
      found=$((ntr - nnf))
      ts=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", b - a}')
      printf "%-10s %-8s %5s %4s %9s%% %8s/%-3s %8s\n" "$name" "$group" "$nz" "$seed" "$pct" "$found" "$ntr" "$ts"
      echo "$name,$group,$nz,$seed,$pct,$matched,$points,$found,$ntr,$ts" >> "$CSV.tmp"
    done
  done
done < "$CASEFILE"
mv "$CSV.tmp" "$CSV"

echo
echo "mean and worst per case (agreement %, over seeds):"
awk -F, 'NR > 1 && $5 != "NA" {
  k = $1 "," $2 "," $3; n[k]++; s[k] += $5; ts[k] += $10
  if (!(k in w) || $5 < w[k]) w[k] = $5
} NR > 1 && $5 == "NA" { k = $1 "," $2 "," $3; fail[k]++ }
END {
  printf "%-10s %-8s %5s %6s %8s %8s %9s %7s\n", "case", "group", "noise", "runs", "mean", "worst", "train_s", "failed"
  for (k in n) { split(k, a, ","); printf "%-10s %-8s %5s %6d %7.1f%% %7.1f%% %9.0f %7d\n", a[1], a[2], a[3], n[k], s[k] / n[k], w[k], ts[k] / n[k], fail[k] + 0 }
}' "$CSV" | sort
echo "wrote $CSV"
