using NWaves.Transforms;

namespace Pipeline.Shared.Audio;

/// <summary>
/// The DFT of real frames of one length n, unnormalised both ways (FFTW's and numpy's <c>rfft</c>/<c>irfft·n</c>
/// convention): <see cref="Forward"/> gives bins 0 … n/2 as interleaved (re, im), <see cref="Inverse"/> takes them
/// back to n samples times n. Powers of two run on NWaves' real FFT; other lengths (n_fft 400 for 25 ms at 16 kHz,
/// say) on Bluestein's chirp-z algorithm over NWaves' complex FFT of the next power of two ≥ 2n − 1.
/// </summary>
/// <remarks>Holds work buffers: one instance per thread (or per call).</remarks>
sealed class RealFourier
{
    readonly int n;
    readonly RealFft? real;            // n a power of two
    readonly float[] re, im;           // NWaves' in/out buffers: n long, or the Bluestein length m
    readonly float[] samples = [];     // power of two: the real frame NWaves reads or writes
    readonly Fft? chirpFft;            // Bluestein: the FFT of length m
    readonly float[] chirpRe = [], chirpIm = [];            // w[j] = e^{−iπj²/n}, j < n
    readonly float[] kernelRe = [], kernelIm = [];          // FFT of the conjugate chirp laid out circularly
    readonly float[] scratchRe = [], scratchIm = [];        // the full complex spectrum for an inverse

    public RealFourier(int n)
    {
        this.n = n;
        if ((n & (n - 1)) == 0)
        {
            real = new RealFft(n);
            (re, im, samples) = (new float[n], new float[n], new float[n]);
            return;
        }
        var m = 1;
        while (m < 2 * n - 1) m <<= 1;
        chirpFft = new Fft(m);
        (re, im) = (new float[m], new float[m]);
        (chirpRe, chirpIm) = (new float[n], new float[n]);
        (kernelRe, kernelIm) = (new float[m], new float[m]);
        for (var j = 0; j < n; j++)
        {
            // j² mod 2n keeps the angle exact for long frames
            var angle = Math.PI * ((long)j * j % (2L * n)) / n;
            (chirpRe[j], chirpIm[j]) = ((float)Math.Cos(angle), (float)-Math.Sin(angle));
            (kernelRe[j], kernelIm[j]) = (chirpRe[j], -chirpIm[j]);
            if (j > 0) (kernelRe[m - j], kernelIm[m - j]) = (chirpRe[j], -chirpIm[j]);
        }
        chirpFft.Direct(kernelRe, kernelIm);
        (scratchRe, scratchIm) = (new float[n], new float[n]);
    }

    /// <summary>Bins 0 … n/2 of the DFT of <paramref name="input"/> (n samples), interleaved (re, im).</summary>
    public void Forward(ReadOnlySpan<float> input, Span<float> interleaved)
    {
        var bins = n / 2 + 1;
        if (real is not null)
        {
            input.CopyTo(samples);
            real.Direct(samples, re, im);
            for (var k = 0; k < bins; k++) (interleaved[2 * k], interleaved[2 * k + 1]) = (re[k], im[k]);
            return;
        }
        Chirp(input, [], bins);
        for (var k = 0; k < bins; k++) (interleaved[2 * k], interleaved[2 * k + 1]) = (re[k], im[k]);
    }

    /// <summary>|X_k|² = re² + im² of bins 0 … n/2 of the DFT of <paramref name="input"/> (n samples), without interleaving.</summary>
    public void Power(ReadOnlySpan<float> input, Span<float> power)
    {
        var bins = n / 2 + 1;
        if (real is not null)
        {
            input.CopyTo(samples);
            real.Direct(samples, re, im);
        }
        else Chirp(input, [], bins);
        System.Numerics.Tensors.TensorPrimitives.Multiply(re.AsSpan(0, bins), re.AsSpan(0, bins), power);
        System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(im.AsSpan(0, bins), im.AsSpan(0, bins), power, power);
    }

    /// <summary>n samples, times n, whose DFT has bins 0 … n/2 <paramref name="interleaved"/> (the rest by Hermitian symmetry).</summary>
    public void Inverse(ReadOnlySpan<float> interleaved, Span<float> output)
    {
        var bins = n / 2 + 1;
        if (real is not null)
        {
            for (var k = 0; k < bins; k++) (re[k], im[k]) = (interleaved[2 * k], interleaved[2 * k + 1]);
            real.Inverse(re, im, samples);
            samples.CopyTo(output);
            return;
        }
        // x[j] = Σ X[k] e^{+2πijk/n} = conj(DFT(conj X))[j]; its real part is what a real signal keeps
        for (var k = 0; k < bins; k++) (scratchRe[k], scratchIm[k]) = (interleaved[2 * k], -interleaved[2 * k + 1]);
        for (var k = bins; k < n; k++) (scratchRe[k], scratchIm[k]) = (interleaved[2 * (n - k)], interleaved[2 * (n - k) + 1]);
        Chirp(scratchRe, scratchIm, n);
        re.AsSpan(0, n).CopyTo(output);
    }

    /// <summary>Bluestein: the first <paramref name="count"/> DFT values of x (real part, imaginary part or empty) into re/im.</summary>
    void Chirp(ReadOnlySpan<float> xRe, ReadOnlySpan<float> xIm, int count)
    {
        var m = re.Length;
        for (var j = 0; j < n; j++)
        {
            float a = xRe[j], b = xIm.IsEmpty ? 0 : xIm[j];
            (re[j], im[j]) = (a * chirpRe[j] - b * chirpIm[j], a * chirpIm[j] + b * chirpRe[j]);
        }
        Array.Clear(re, n, m - n);
        Array.Clear(im, n, m - n);
        chirpFft!.Direct(re, im);
        for (var k = 0; k < m; k++)
        {
            float a = re[k], b = im[k], c = kernelRe[k], d = kernelIm[k];
            (re[k], im[k]) = (a * c - b * d, a * d + b * c);
        }
        chirpFft.Inverse(re, im); // unnormalised: divided by m below
        var scale = 1f / m;
        for (var k = 0; k < count; k++)
        {
            float a = re[k] * scale, b = im[k] * scale;
            (re[k], im[k]) = (a * chirpRe[k] - b * chirpIm[k], a * chirpIm[k] + b * chirpRe[k]);
        }
    }
}
