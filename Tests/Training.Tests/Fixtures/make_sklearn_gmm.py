#!/usr/bin/python3
"""Makes sklearn_gmm_{full,diag}.safetensors: scikit-learn's GaussianMixture EM from a given start.

Run once with Debian's python3-sklearn: /usr/bin/python3 make_sklearn_gmm.py [out-dir]. Each file holds the data
(x), the initial weights/means/covariances, and the fitted parameters and mean log-likelihood (score) after a
fixed number of EM iterations (tol = 0, so both sides run exactly max_iter iterations).
"""
import sys

import numpy as np
import sklearn
from safetensors_writer import write_safetensors
from sklearn.mixture import GaussianMixture


out = sys.argv[1] if len(sys.argv) > 1 else "."
rng = np.random.default_rng(7)
for kind, d in [("full", 3), ("diag", 5)]:
    k = 3
    centres = rng.normal(0, 4, size=(k, d))
    parts = []
    for c in range(k):
        a = rng.normal(0, 1, size=(d, d)) * 0.7
        parts.append(rng.multivariate_normal(centres[c], a @ a.T + 0.3 * np.eye(d), size=200 + 100 * c))
    x = np.concatenate(parts).astype(np.float32)  # the C# side reads float32 data
    weights = np.full(k, 1.0 / k)
    means = x[[0, 250, 600]].astype(np.float64) + 0.5
    if kind == "full":
        covariances = np.stack([np.eye(d) * 2.0 for _ in range(k)])
        precisions = np.stack([np.linalg.inv(c) for c in covariances])
    else:
        covariances = np.full((k, d), 2.0)
        precisions = 1.0 / covariances
    gmm = GaussianMixture(n_components=k, covariance_type=kind, tol=0.0, max_iter=25, reg_covar=1e-6,
                          weights_init=weights, means_init=means, precisions_init=precisions)
    gmm.fit(x.astype(np.float64))
    write_safetensors(f"{out}/sklearn_gmm_{kind}.safetensors", {
        "x": x.astype(np.float64), "weights_init": weights, "means_init": means, "covariances_init": covariances,
        "weights": gmm.weights_, "means": gmm.means_, "covariances": gmm.covariances_,
        "score": np.array([gmm.score(x.astype(np.float64))]),
    }, {"covariance_type": kind, "iterations": str(gmm.n_iter_), "sklearn": sklearn.__version__})
