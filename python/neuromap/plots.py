"""Bifurcation diagrams of a comparison: ISIs (log scale) against the control
value p, the ground truth and the learned model side by side.

Input is the ISI table that ``neuromap compare --isis FILE`` writes (CSV with
columns ``side,p,isi_ms,regime``; ``#`` comment lines carry metadata such as
``# train_p: -42,-38`` and ``# agreement: 0.92``).  Each grid point has one
row with an empty ``isi_ms`` that carries its regime, then one row per ISI.

What the figure shows (docs/evaluation.md, "Reading the plot"):

* one panel per side (truth left, learned right), shared axes;
* every ISI of the analysed window as a dot: a periodic regime with K spikes
  per period shows as K dots (or fewer, where ISIs coincide) stacked at its p,
  tonic spiking as one dot, irregular dynamics as a smear;
* a strip above each panel coloured by regime (silent, periodic:K,
  irregular, diverged), so the two sides can be compared point by point;
* silent points as grey triangles at the bottom edge, diverged learned runs
  as red crosses at the top edge;
* the training p values as dashed vertical lines.

Command line::

    python3 -m neuromap.plots ISIS.csv -o compare.png [--title TEXT]

Standalone: needs numpy and matplotlib (Agg backend, no display).  Exit
status 0 on success, 2 for a bad input file, 3 if matplotlib is missing.
"""

import argparse
import csv
import os
import sys

import numpy as np

__all__ = ["read_isis", "plot_bifurcation", "regime_color", "main"]

EXIT_BAD_INPUT = 2
EXIT_NO_MATPLOTLIB = 3

SIDES = ("truth", "learned")
SIDE_COLORS = {"truth": "#1f3b73", "learned": "#c0392b"}
SILENT_COLOR = "#8c8c8c"
IRREGULAR_COLOR = "#222222"
DIVERGED_COLOR = "#e31a1c"
TRAIN_COLOR = "#2ca02c"
# Colours of periodic:K, K = 1.. (ColorBrewer "Set2"-like, distinct on white).
PERIODIC_COLORS = [
    "#66c2a5", "#fc8d62", "#8da0cb", "#e78ac3", "#a6d854",
    "#ffd92f", "#e5c494", "#b3b3b3", "#1b9e77", "#d95f02",
    "#7570b3", "#e7298a",
]


def regime_color(regime):
    """Colour of a regime label in the strips ("silent", "periodic:3", ...)."""
    if regime == "silent":
        return SILENT_COLOR
    if regime == "irregular":
        return IRREGULAR_COLOR
    if regime == "diverged":
        return DIVERGED_COLOR
    if regime.startswith("periodic:"):
        try:
            k = int(regime.split(":", 1)[1])
        except ValueError:
            return "#ffffff"
        return PERIODIC_COLORS[(k - 1) % len(PERIODIC_COLORS)]
    return "#ffffff"


def _regime_order(regime):
    """Sort key for legends: silent, periodic:1, 2, ..., irregular, diverged."""
    if regime == "silent":
        return (0, 0)
    if regime.startswith("periodic:"):
        try:
            return (1, int(regime.split(":", 1)[1]))
        except ValueError:
            return (1, 10**6)
    return (2, 0) if regime == "irregular" else (3, 0)


def read_isis(path):
    """Read an ISI table.

    Returns ``{"meta": {key: text}, "sides": {side: {p: {"regime": str,
    "isis": ndarray}}}}``.  Raises ValueError (naming file and line) for a
    malformed file.
    """
    meta, sides = {}, {}
    with open(path, newline="") as f:
        lines = f.read().splitlines()
    header = None
    for lineno, line in enumerate(lines, 1):
        text = line.strip()
        if not text:
            continue
        if text.startswith("#"):
            body = text[1:].strip()
            if ":" in body:
                key, value = body.split(":", 1)
                key = key.strip()
                if key and " " not in key:
                    meta[key] = value.strip()
            continue
        fields = next(csv.reader([text]))
        fields = [x.strip() for x in fields]
        if header is None:
            header = fields
            missing = [c for c in ("side", "p", "isi_ms") if c not in header]
            if missing:
                raise ValueError(f"{path}:{lineno}: the header lacks column(s) {', '.join(missing)} "
                                 f"(found: {', '.join(header)})")
            col = {name: header.index(name) for name in header}
            continue
        if len(fields) < len(header):
            raise ValueError(f"{path}:{lineno}: {len(fields)} fields, the header has {len(header)}")
        side = fields[col["side"]]
        try:
            p = float(fields[col["p"]])
        except ValueError:
            raise ValueError(f"{path}:{lineno}: p '{fields[col['p']]}' is not a number") from None
        if not np.isfinite(p):
            raise ValueError(f"{path}:{lineno}: p is not finite")
        point = sides.setdefault(side, {}).setdefault(p, {"regime": None, "isis": []})
        if "regime" in col and fields[col["regime"]]:
            point["regime"] = fields[col["regime"]]
        isi = fields[col["isi_ms"]]
        if isi:
            try:
                value = float(isi)
            except ValueError:
                raise ValueError(f"{path}:{lineno}: isi_ms '{isi}' is not a number") from None
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{path}:{lineno}: isi_ms {isi} must be a positive number")
            point["isis"].append(value)
    if header is None:
        raise ValueError(f"{path}: no header line (expected side,p,isi_ms[,regime])")
    if not sides:
        raise ValueError(f"{path}: no rows")
    for pts in sides.values():
        for point in pts.values():
            point["isis"] = np.asarray(point["isis"], dtype=float)
            if point["regime"] is None:
                point["regime"] = "periodic?" if point["isis"].size else "silent"
    return {"meta": meta, "sides": sides}


def _parse_list(text):
    out = []
    for part in (text or "").replace(";", ",").split(","):
        part = part.strip()
        if part:
            try:
                out.append(float(part))
            except ValueError:
                pass
    return out


def _grid_step(ps):
    ps = np.unique(ps)
    if ps.size < 2:
        return 1.0
    return float(np.min(np.diff(ps)))


def plot_bifurcation(data, out, title=None, train_p=None, dpi=150):
    """Draw the diagram of ``data`` (from read_isis) into the PNG ``out``.

    train_p: training p values to mark (default: the file's ``# train_p``).
    Returns the matplotlib Figure (already saved).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    from matplotlib.transforms import blended_transform_factory

    sides = [s for s in SIDES if s in data["sides"]]
    sides += sorted(s for s in data["sides"] if s not in SIDES)
    if train_p is None:
        train_p = _parse_list(data["meta"].get("train_p"))
    all_p = np.array([p for s in sides for p in data["sides"][s]])
    all_isi = np.concatenate([pt["isis"] for s in sides for pt in data["sides"][s].values()] + [np.empty(0)])
    step = _grid_step(all_p)
    pmin, pmax = float(all_p.min()) - step, float(all_p.max()) + step
    if all_isi.size:
        ylo, yhi = all_isi.min() / 1.6, all_isi.max() * 1.6
    else:
        ylo, yhi = 10.0, 1e4

    ncol = len(sides)
    fig = plt.figure(figsize=(5.6 * ncol + 1.9, 5.6), constrained_layout=True)
    # the last, narrow column holds the legend (matplotlib 3.6 has no
    # loc="outside ..." for figure legends)
    gs = fig.add_gridspec(2, ncol + 1, height_ratios=[1, 11], width_ratios=[5.6] * ncol + [1.7])
    main_axes, regimes_seen = [], set()
    for c, side in enumerate(sides):
        pts = data["sides"][side]
        ax = fig.add_subplot(gs[1, c], sharex=main_axes[0] if main_axes else None,
                             sharey=main_axes[0] if main_axes else None)
        strip = fig.add_subplot(gs[0, c], sharex=ax)
        main_axes.append(ax)
        color = SIDE_COLORS.get(side, "#555555")
        ps = sorted(pts)
        # ISIs: every interval of the window at its p
        xs = np.concatenate([np.full(pts[p]["isis"].size, p) for p in ps] + [np.empty(0)])
        ys = np.concatenate([pts[p]["isis"] for p in ps] + [np.empty(0)])
        ax.scatter(xs, ys, s=6, color=color, alpha=0.55, linewidths=0, zorder=3, rasterized=True)
        # silent at the bottom edge, diverged at the top edge
        edge = blended_transform_factory(ax.transData, ax.transAxes)
        silent = [p for p in ps if pts[p]["regime"] == "silent"]
        diverged = [p for p in ps if pts[p]["regime"] == "diverged"]
        if silent:
            ax.scatter(silent, np.full(len(silent), 0.025), transform=edge, marker="v", s=28,
                       color=SILENT_COLOR, zorder=4, clip_on=False)
        if diverged:
            ax.scatter(diverged, np.full(len(diverged), 0.975), transform=edge, marker="x", s=36,
                       color=DIVERGED_COLOR, zorder=4, clip_on=False)
        for tp in train_p:
            ax.axvline(tp, color=TRAIN_COLOR, lw=1.0, ls="--", alpha=0.8, zorder=1)
        # the regime strip
        for p in ps:
            reg = pts[p]["regime"]
            regimes_seen.add(reg)
            strip.axvspan(p - step / 2, p + step / 2, color=regime_color(reg), lw=0)
        for tp in train_p:
            strip.plot([tp], [0.5], marker="v", color=TRAIN_COLOR, ms=5, mec="white", mew=0.5)
        strip.set_ylim(0, 1)
        strip.set_yticks([])
        strip.tick_params(labelbottom=False, length=0)
        for sp in strip.spines.values():
            sp.set_visible(False)
        strip.set_title(side, fontsize=12, color=color, fontweight="bold")
        ax.set_yscale("log")
        # plain numbers at 1, 2, 5 x 10^k ms: ISIs span only ~1-2 decades
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xlim(pmin, pmax)
        ax.set_ylim(ylo, yhi)
        ax.set_xlabel(data["meta"].get("p_label", "control parameter p"))
        if c == 0:
            ax.set_ylabel("inter-spike interval (ms)")
        else:
            ax.tick_params(labelleft=False)
        ax.grid(True, which="major", alpha=0.25)
        ax.grid(True, which="minor", axis="y", alpha=0.08)

    handles = [Line2D([], [], ls="", marker="o", ms=4, color="#555555", label="ISIs of the window")]
    if "silent" in regimes_seen:
        handles.append(Line2D([], [], ls="", marker="v", ms=6, color=SILENT_COLOR, label="silent"))
    if "diverged" in regimes_seen:
        handles.append(Line2D([], [], ls="", marker="x", ms=6, color=DIVERGED_COLOR, label="diverged"))
    if train_p:
        handles.append(Line2D([], [], ls="--", color=TRAIN_COLOR, label="training p"))
    handles += [Patch(color=regime_color(r), label=r) for r in sorted(regimes_seen, key=_regime_order)]
    lax = fig.add_subplot(gs[:, ncol])
    lax.axis("off")
    lax.legend(handles=handles, loc="center left", fontsize=8, frameon=False,
               title="markers / regime strip", title_fontsize=8)
    if title is None:
        title = "bifurcation diagram"
        if "agreement" in data["meta"]:
            try:
                title += f" (agreement {100 * float(data['meta']['agreement']):.1f}%)"
            except ValueError:
                pass
    fig.suptitle(title, fontsize=12)
    tmp = f"{out}.tmp{os.getpid()}.png"
    try:
        fig.savefig(tmp, dpi=dpi)
        os.replace(tmp, out)  # never a half-written PNG under the final name
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    plt.close(fig)
    return fig


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="python3 -m neuromap.plots",
        description="Draw the bifurcation diagram (ISIs against p, truth and learned side by side) "
                    "from the ISI table of `neuromap compare --isis`.")
    ap.add_argument("isis", help="CSV with columns side,p,isi_ms[,regime]")
    ap.add_argument("-o", "--out", required=True, help="PNG to write")
    ap.add_argument("--title", default=None)
    ap.add_argument("--train-p", default=None, help="training p values, comma separated "
                    "(default: from the file's '# train_p:' line)")
    ap.add_argument("--dpi", type=int, default=150)
    args = ap.parse_args(argv)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print(f"neuromap.plots: matplotlib is not installed for {sys.executable}; "
              "install python3-matplotlib", file=sys.stderr)
        return EXIT_NO_MATPLOTLIB
    try:
        data = read_isis(args.isis)
    except (OSError, ValueError) as e:
        print(f"neuromap.plots: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    train_p = _parse_list(args.train_p) if args.train_p is not None else None
    try:
        plot_bifurcation(data, args.out, title=args.title, train_p=train_p, dpi=args.dpi)
    except OSError as e:
        print(f"neuromap.plots: cannot write {args.out}: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


if __name__ == "__main__":
    sys.exit(main())
