#!/usr/bin/python3
"""Makes sklearn_nmf.safetensors: scikit-learn's multiplicative-update NMF solver from a given start.

Run once with Debian's python3-sklearn: /usr/bin/python3 make_sklearn_nmf.py [out-dir].

Our Nmf updates H then W each iteration; scikit-learn updates W then H. The update rules are symmetric under
transposition, so scikit-learn fitted to Vᵀ with W₀ = H₀ᵀ and H₀ = W₀ᵀ runs exactly our sequence of iterates.
For each β the file holds V (F, T), the start W₀ (F, K) and H₀ (K, T), the β-divergence after 1..N iterations
(one scikit-learn run per count, tol = 0, no penalty) and the factors after N iterations, in our orientation.
"""
import json
import sys
import warnings

import numpy as np
import sklearn
from safetensors_writer import write_safetensors
from sklearn.decomposition import NMF
from sklearn.decomposition._nmf import _beta_divergence
from sklearn.exceptions import ConvergenceWarning


warnings.simplefilter("ignore", ConvergenceWarning)
out = sys.argv[1] if len(sys.argv) > 1 else "."
rng = np.random.default_rng(11)
f, t, k, n = 12, 20, 3, 40
# float32-representable values, so the C# side (which reads float32) starts from exactly the same numbers
v = (rng.uniform(0, 1, size=(f, k)) @ rng.uniform(0, 1, size=(k, t)) + rng.uniform(0.05, 0.3, size=(f, t)))
v = v.astype(np.float32).astype(np.float64)
w0 = rng.uniform(0.1, 1, size=(f, k)).astype(np.float32).astype(np.float64)
h0 = rng.uniform(0.1, 1, size=(k, t)).astype(np.float32).astype(np.float64)
tensors = {"v": v, "w0": w0, "h0": h0}
betas = [2.0, 1.0, 0.5, 0.0]
for beta in betas:
    losses = []
    for iterations in range(1, n + 1):
        model = NMF(n_components=k, init="custom", solver="mu", beta_loss=beta, tol=0.0, max_iter=iterations,
                    alpha_W=0.0, alpha_H=0.0)
        ht = model.fit_transform(v.T, W=h0.T.copy(), H=w0.T.copy())
        assert model.n_iter_ == iterations, (beta, iterations, model.n_iter_)
        wt = model.components_
        losses.append(_beta_divergence(v.T, ht, wt, beta))
    tag = str(beta).replace(".", "_")
    tensors[f"loss_{tag}"] = np.array(losses)
    tensors[f"w_{tag}"] = wt.T
    tensors[f"h_{tag}"] = ht.T
write_safetensors(f"{out}/sklearn_nmf.safetensors", tensors,
                  {"betas": json.dumps(betas), "iterations": str(n), "sklearn": sklearn.__version__})
