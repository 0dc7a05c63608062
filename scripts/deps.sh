#!/usr/bin/env bash
# Install the Debian packages neuromap needs (only those missing).
# Run as root on Debian 12; without root it only reports what is missing.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  libgsl-dev libopenblas-dev          # numerics: ODEs (GSL odeiv2), GEMM (OpenBLAS)
  neuron neuron-dev python3-neuron    # NEURON 8.2 simulator, nrnivmodl, Python module
  python3-numpy python3-matplotlib    # the Python package and its plots
  python3-scipy                       # reference integrator (LSODA) for benchmarks and checks
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#PACKAGES[@]} Debian packages present"
  exit 0
fi
echo "deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: not root; install them with: sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
