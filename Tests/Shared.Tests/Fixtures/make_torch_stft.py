#!/usr/bin/python3
"""Makes torch_stft.npz-like .npy files: a test signal and torch.stft of it (PyTorch 1.13, Debian python3-torch).

Run once: /usr/bin/python3 make_torch_stft.py [out-dir]. Files:
  torch_stft_signal.npy         float32 signal, 4000 samples
  torch_stft_center_re.npy/_im  n_fft 512, hop 128, win_length 400, periodic Hann, center, reflect padding
  torch_stft_nocenter_re.npy/_im n_fft 256, hop 100, win_length 256, periodic Hann, no centring
"""
import sys

import numpy as np
import torch

out = sys.argv[1] if len(sys.argv) > 1 else "."
rng = np.random.default_rng(5)
n = 4000
t = np.arange(n) / 16000
x = (0.5 * np.sin(2 * np.pi * 440 * t) + 0.3 * np.sin(2 * np.pi * (300 + 2000 * t) * t) + 0.05 * rng.standard_normal(n)).astype(np.float32)
np.save(f"{out}/torch_stft_signal.npy", x)
xt = torch.from_numpy(x).double()  # double precision: the reference should not carry float32 rounding
s = torch.stft(xt, n_fft=512, hop_length=128, win_length=400, window=torch.hann_window(400, periodic=True, dtype=torch.float64),
               center=True, pad_mode="reflect", return_complex=True)
np.save(f"{out}/torch_stft_center_re.npy", np.ascontiguousarray(s.real.numpy(), dtype=np.float32))
np.save(f"{out}/torch_stft_center_im.npy", np.ascontiguousarray(s.imag.numpy(), dtype=np.float32))
s = torch.stft(xt, n_fft=256, hop_length=100, window=torch.hann_window(256, periodic=True, dtype=torch.float64),
               center=False, return_complex=True)
np.save(f"{out}/torch_stft_nocenter_re.npy", np.ascontiguousarray(s.real.numpy(), dtype=np.float32))
np.save(f"{out}/torch_stft_nocenter_im.npy", np.ascontiguousarray(s.imag.numpy(), dtype=np.float32))
