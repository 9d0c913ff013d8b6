"""The front-end benchmark's peer: the same three jobs with numpy's FFT (pocketfft) on one thread.

Run by `./run bench frontend` with Debian's python3 and python3-numpy; prints one line per job, "name ms",
the median of 21 runs after 3 untimed ones, as the C# side times its own.
usage: frontend_numpy.py WAV_44K1
"""
import os
import sys
import time
import wave

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # the mel product is a BLAS call; one thread as on our side
import numpy as np


def median_ms(work):
    for _ in range(3):
        work()
    times = []
    for _ in range(21):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return sorted(times)[10]


def magnitude_frames(signal, n_fft, hop, power):
    """librosa's framing: centre padding by n_fft/2 (reflect), periodic Hann window, one-sided |FFT|^power."""
    padded = np.pad(signal, n_fft // 2, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)
    spectrum = np.abs(np.fft.rfft(frames * window, axis=1))
    return spectrum ** power if power != 1 else spectrum


def triangular_mel(n_mels, n_fft, rate):
    """HTK-style triangles on the mel scale (built once, outside the timing; its shape is all that matters here)."""
    mel = lambda f: 2595 * np.log10(1 + f / 700)
    hz = lambda m: 700 * (10 ** (m / 2595) - 1)
    edges = hz(np.linspace(mel(0), mel(rate / 2), n_mels + 2))
    bins = np.linspace(0, rate / 2, n_fft // 2 + 1)
    rising = (bins[None, :] - edges[:-2, None]) / (edges[1:-1, None] - edges[:-2, None])
    falling = (edges[2:, None] - bins[None, :]) / (edges[2:, None] - edges[1:-1, None])
    return np.maximum(0, np.minimum(rising, falling)).astype(np.float32)


def main():
    rng = np.random.default_rng(1)
    clip16k = (rng.random(160_000) - 0.5).astype(np.float32)
    mel = triangular_mel(64, 512, 16000)
    log_mel = lambda: 10 * np.log10(magnitude_frames(clip16k, 512, 160, 2) @ mel.T + 1e-10)
    print(f"log-mel {median_ms(log_mel):.3f}")

    clip22k = (rng.random(30 * 22050) - 0.5).astype(np.float32)
    print(f"stft {median_ms(lambda: magnitude_frames(clip22k, 2048, 512, 1)):.3f}")

    def read_and_resample():
        with wave.open(sys.argv[1]) as f:
            rate, n = f.getframerate(), f.getnframes()
            samples = np.frombuffer(f.readframes(n), dtype="<i2").astype(np.float32) / 32768
        # numpy has no polyphase resampler: band-limited resampling in the frequency domain (scipy.signal.resample's method)
        m = -(-n * 16000 // rate)
        return np.fft.irfft(np.fft.rfft(samples)[: m // 2 + 1], m) * (m / n)

    print(f"resample {median_ms(read_and_resample):.3f}")


if __name__ == "__main__":
    main()
