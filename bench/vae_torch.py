#!/usr/bin/python3
"""Benchmark (not a test): an epoch of neuromap's VAE trainer against PyTorch
on the same network, in one run (issue 12: "VAE epoch on 2 cores at least 4x
faster than PyTorch at its best thread count").

    /usr/bin/python3 bench/vae_torch.py [--bench-vae build/bin/bench_vae] [--epochs 4] [--repeats 3]

PyTorch: Debian's python3-torch (1.13; `apt-get install python3-torch`, not
needed by anything else in neuromap).  The workload is bench_vae's standard
case: 100,000 delay vectors of De = 32, encoder 32-128-128-6 and decoder
3-128-128-32 (tanh hidden layers, identity outputs), D = 3, reparameterised
sample, loss = MSE(reconstruction) + beta KL with beta 1e-3, batch 256,
shuffled every epoch, Adam lr 1e-3 -- the same arithmetic per sample as
nm_vae_train (the data values do not change the cost: standard-normal
vectors here).  PyTorch runs in float32 eager mode on 1 and on 2 threads, each
in a fresh process whose torch, OpenMP and OpenBLAS pools all have that many
threads; an epoch's time is the median over epochs 2.. (epoch 1 warms up).

Each repeat runs, one after the other: bench_vae (neuromap on 1 and 2
threads, its own median epoch), PyTorch on 1 thread, PyTorch on 2 threads.
Reported: per repeat the ratio PyTorch-best / neuromap-2-threads, and the
median of those ratios (the machine's load moves all of them alike).
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DE, HID, LAT, BATCH, NVEC, BETA = 32, 128, 3, 256, 100000, 1e-3


def torch_epoch_s(torch, nthreads, epochs, seed=1):
    torch.set_num_threads(nthreads)
    torch.manual_seed(seed)
    nn = torch.nn
    enc = nn.Sequential(nn.Linear(DE, HID), nn.Tanh(), nn.Linear(HID, HID), nn.Tanh(), nn.Linear(HID, 2 * LAT))
    dec = nn.Sequential(nn.Linear(LAT, HID), nn.Tanh(), nn.Linear(HID, HID), nn.Tanh(), nn.Linear(HID, DE))
    opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=1e-3)
    x = torch.randn(NVEC, DE)
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(NVEC)
        for b in range(0, NVEC, BATCH):
            xb = x[perm[b:b + BATCH]]
            h = enc(xb)
            mu, logvar = h[:, :LAT], h[:, LAT:]
            z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
            rec = dec(z)
            loss = ((rec - xb) ** 2).mean() + BETA * (
                0.5 * (mu ** 2 + logvar.exp() - 1 - logvar).sum(dim=1).mean())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:]) if len(times) > 1 else times[0]


def torch_epoch_s_subprocess(nthreads, epochs):
    """PyTorch in a fresh process whose BLAS and OpenMP pools have nthreads
    threads (Debian's torch multiplies with OpenBLAS, whose own thread count
    torch.set_num_threads does not set; it is read once, at load)."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(nthreads), OMP_NUM_THREADS=str(nthreads))
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--torch-worker", str(nthreads),
                          "--epochs", str(epochs)], capture_output=True, text=True, check=True, env=env).stdout
    return float(out.split()[-1])


def neuromap_epoch_s(exe, epochs):
    """bench_vae EPOCHS 1 -> (one thread, two threads) s per epoch of the
    128-wide network (its first block)."""
    out = subprocess.run([exe, str(epochs), "1"], capture_output=True, text=True, check=True,
                         env=dict(os.environ, OPENBLAS_NUM_THREADS="1")).stdout
    t1 = re.search(r"threads 1:\s+([0-9.]+) s an epoch", out)
    t2 = re.search(r"threads 2:\s+([0-9.]+) s an epoch", out)
    if not (t1 and t2):
        sys.exit("could not read bench_vae's output:\n" + out)
    return float(t1.group(1)), float(t2.group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bench-vae", default=os.path.join(ROOT, "build", "bin", "bench_vae"))
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--torch-worker", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.torch_worker:
        import torch
        print("%.6f" % torch_epoch_s(torch, args.torch_worker, args.epochs))
        return
    if args.epochs < 2 or args.repeats < 1:
        sys.exit("--epochs must be >= 2 and --repeats >= 1")
    if not os.access(args.bench_vae, os.X_OK):
        sys.exit("bench_vae not found at %s: build the project (scripts/build.sh)" % args.bench_vae)
    try:
        import torch
    except ImportError:
        sys.exit("PyTorch is not installed: apt-get install python3-torch (Debian 12: 1.13)")
    print("VAE %d-%d-%d-%d / %d-%d-%d-%d tanh, batch %d, %d vectors an epoch; PyTorch %s, float32, eager"
          % (DE, HID, HID, 2 * LAT, LAT, HID, HID, DE, BATCH, NVEC, torch.__version__))
    ratios = []
    for r in range(args.repeats):
        n1, n2 = neuromap_epoch_s(args.bench_vae, args.epochs)
        p1 = torch_epoch_s_subprocess(1, args.epochs)
        p2 = torch_epoch_s_subprocess(2, args.epochs)
        best = min(p1, p2)
        ratios.append(best / n2)
        print("  repeat %d: neuromap 1 thread %.3f s, 2 threads %.3f s | PyTorch 1 thread %.3f s, 2 threads %.3f s"
              " | PyTorch best / neuromap 2 threads = %.2fx" % (r + 1, n1, n2, p1, p2, ratios[-1]))
        sys.stdout.flush()
    print("median over %d repeats: neuromap on 2 threads is %.2fx faster than PyTorch at its best thread count"
          % (args.repeats, statistics.median(ratios)))


if __name__ == "__main__":
    main()
