"""Plot of `neuromap predict --out` traces: recorded and predicted V, the input.

    python3 -m neuromap.plot_predict trace.csv -o predict.png [--title T]

The CSV has the columns t_ms,V_data_mV,V_model_mV,I_<unit>.  Exits 3 when
matplotlib is missing (the command reports it).
"""
import argparse
import sys

EXIT_NO_MATPLOTLIB = 3


def read_trace(path):
    import numpy as np
    with open(path) as f:
        header = f.readline().strip().split(",")
    if header[:3] != ["t_ms", "V_data_mV", "V_model_mV"] or len(header) != 4:
        raise ValueError("%s: expected the header t_ms,V_data_mV,V_model_mV,I_<unit>, got %s" % (path, ",".join(header)))
    data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    unit = header[3][2:].replace("_", "/") if header[3].startswith("I_") else header[3]
    return data[:, 0], data[:, 1], data[:, 2], data[:, 3], unit


def plot_predict(path, out, title=None, dpi=150):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    t, vd, vm, u, unit = read_trace(path)
    fig, (a1, a2) = plt.subplots(2, 1, sharex=True, figsize=(10, 5), gridspec_kw={"height_ratios": [3, 1]})
    a1.plot(t, vd, color="black", lw=0.8, label="recorded")
    a1.plot(t, vm, color="tab:red", lw=0.8, alpha=0.8, label="learned model")
    a1.set_ylabel("V (mV)")
    a1.legend(loc="upper right", frameon=False)
    a2.plot(t, u, color="tab:blue", lw=0.8)
    a2.set_ylabel("I (%s)" % unit)
    a2.set_xlabel("t (ms)")
    if title:
        a1.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=dpi)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trace")
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--title")
    a = ap.parse_args(argv)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("plot_predict: matplotlib is not installed", file=sys.stderr)
        return EXIT_NO_MATPLOTLIB
    plot_predict(a.trace, a.out, a.title)
    return 0


if __name__ == "__main__":
    sys.exit(main())
