"""scikit-learn's time per iteration on the data a benchmark wrote, for the benchmark to print beside its own.

    sklearn_peer.py nmf V.npy BETA...   one line per beta: "BETA MS" (MU solver, rank 88, float32 as given)
    sklearn_peer.py nmf64 V.npy BETA... the same on V in float64 (scikit-learn's precision for float64 input)
    sklearn_peer.py gmm X.npy TYPE...   one line per type: "TYPE MS" (EM, K = 16; diag or full)

A fit of m + n iterations less a fit of m, divided by n, so set-up and initialisation cancel; median of three.
"""
import sys
import time
import warnings

import numpy as np
from sklearn.decomposition import NMF
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

warnings.simplefilter("ignore", ConvergenceWarning)


def per_iteration(fit, first, extra):
    times = []
    for _ in range(3):
        start = time.perf_counter()
        fit(first)
        short = time.perf_counter() - start
        start = time.perf_counter()
        fit(first + extra)
        long = time.perf_counter() - start
        times.append((long - short) / extra * 1000)
    return sorted(times)[1]


def main():
    kind, path, *settings = sys.argv[1:]
    data = np.load(path)
    if kind == "nmf64":
        data = data.astype(np.float64)
    for setting in settings:
        if kind in ("nmf", "nmf64"):
            beta = float(setting)
            fit = lambda m: NMF(n_components=88, solver="mu", beta_loss=beta, init="random", random_state=0, max_iter=m, tol=0).fit(data)
            print(setting, per_iteration(fit, 2, 10), flush=True)
        else:
            fit = lambda m: GaussianMixture(16, covariance_type=setting, max_iter=m, tol=0, init_params="random", random_state=0).fit(data)
            print(setting, per_iteration(fit, 1, 5), flush=True)


if __name__ == "__main__":
    main()
