#!/bin/bash
# Makes sptk_mcep_frames.npy (windowed frames, 8 × 1024) and sptk_mcep.npy (their mel-cepstra, 8 × 40) with
# Debian's sptk 3.9: mcep -l 1024 -m 39 -a 0.42 -e 1e-8. Run once: bash make_sptk_mcep.sh [out-dir]
# Needs: apt-get install sptk python3-numpy. The tests only read the two .npy files.
set -euo pipefail
out="${1:-.}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 - "$tmp/frames.f32" "$out/sptk_mcep_frames.npy" <<'PY'
import sys
import numpy as np

rng = np.random.default_rng(3)
n, sr = 1024, 16000
t = np.arange(n) / sr
window = np.blackman(n + 1)[:-1]  # periodic Blackman


def resonate(x, freq, bandwidth):
    r = np.exp(-np.pi * bandwidth / sr)
    a1, a2 = -2 * r * np.cos(2 * np.pi * freq / sr), r * r
    y = np.zeros_like(x)
    for i in range(len(x)):
        y[i] = x[i] - a1 * (y[i - 1] if i > 0 else 0) - a2 * (y[i - 2] if i > 1 else 0)
    return y


frames = []
frames.append(rng.standard_normal(n))                                   # white noise
ar = np.zeros(n + 200)
e = rng.standard_normal(n + 200)
for i in range(4, n + 200):                                             # an AR(4) process: two spectral peaks
    ar[i] = 1.3 * ar[i - 1] - 0.9 * ar[i - 2] + 0.4 * ar[i - 3] - 0.2 * ar[i - 4] + e[i]
frames.append(ar[200:] / np.std(ar[200:]))
for f0, formants in [(120, [(700, 80), (1200, 90), (2600, 120)]), (220, [(300, 60), (2300, 100), (3000, 150)])]:
    pulses = np.zeros(n + 400)                                          # a vowel-like frame: glottal pulses through formants
    pulses[:: int(sr / f0)] = 1.0
    y = pulses
    for freq, bw in formants:
        y = resonate(y, freq, bw)
    y = y[400:]
    frames.append(y / np.max(np.abs(y)))
frames.append(np.sin(2 * np.pi * 440 * t) + 0.5 * np.sin(2 * np.pi * 1320 * t) + 0.01 * rng.standard_normal(n))
frames.append(1e-3 * rng.standard_normal(n))                            # a quiet frame
chirp = np.sin(2 * np.pi * (200 * t + 0.5 * 3000 / t[-1] * t * t))      # a chirp
frames.append(chirp)
frames.append(np.cumsum(rng.standard_normal(n)) / 30)                   # brown noise: a steep spectral tilt
x = (np.array(frames) * window).astype(np.float32)
x.tofile(sys.argv[1])
np.save(sys.argv[2], x)
PY
/usr/libexec/sptk/bin/mcep -l 1024 -m 39 -a 0.42 -e 1e-8 < "$tmp/frames.f32" > "$tmp/mcep.f32"
/usr/bin/python3 -c "import numpy as np, sys; np.save(sys.argv[2], np.fromfile(sys.argv[1], dtype=np.float32).reshape(-1, 40))" "$tmp/mcep.f32" "$out/sptk_mcep.npy"
