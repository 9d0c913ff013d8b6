using System.Numerics;
using Pipeline.Shared.Errors;

namespace Pipeline.Shared.Audio;

/// <summary>
/// Mel-cepstral analysis of a windowed frame (Tokuda, Kobayashi, Masuko, Imai 1994), computed the way SPTK's
/// <c>mcep</c> computes it: the log periodogram's cepstrum, warped by the all-pass constant α, is the first
/// guess; Newton–Raphson steps then minimise the spectral criterion, each solving a Toeplitz-plus-Hankel system
/// built from the warped autocorrelation of periodogram / |H|². Everything runs in double precision with a
/// radix-2 FFT of the frame's length, so the frame length must be a power of two.
/// </summary>
public sealed class MelCepstrum
{
    /// <summary>Order M: the analysis returns c₀ … c_M.</summary>
    public int Order { get; }
    /// <summary>All-pass constant α (0.42 suits 16 kHz, 0.55 suits 48 kHz).</summary>
    public double Alpha { get; }
    /// <summary>Frame (and FFT) length.</summary>
    public int FrameLength { get; }
    /// <summary>Iterations always run (SPTK's -i).</summary>
    public int MinIterations { get; init; } = 2;
    /// <summary>Iteration limit (SPTK's -j).</summary>
    public int MaxIterations { get; init; } = 30;
    /// <summary>Stop when the relative change of r(0) falls below this (SPTK's -d).</summary>
    public double Tolerance { get; init; } = 1e-3;
    /// <summary>Added to the periodogram so silent frames stay finite (SPTK's -e).</summary>
    public double Floor { get; init; } = 1e-8;

    readonly Complex[] twiddles;

    /// <summary>Checks the parameters.</summary>
    public MelCepstrum(int order, double alpha, int frameLength)
    {
        var problems = new List<string>();
        if (order < 1) problems.Add($"order must be ≥ 1 (got {order})");
        if (!(Math.Abs(alpha) < 1)) problems.Add($"α must lie in (−1, 1) (got {alpha})");
        if (frameLength < 4 || (frameLength & (frameLength - 1)) != 0) problems.Add($"frame length must be a power of two ≥ 4 (got {frameLength})");
        else if (order > frameLength / 2) problems.Add($"order {order} exceeds half the frame length {frameLength}");
        if (problems.Count > 0) throw new InvalidOptionException("mel-cepstrum: " + string.Join("; ", problems));
        (Order, Alpha, FrameLength) = (order, alpha, frameLength);
        twiddles = new Complex[frameLength / 2];
        for (var k = 0; k < twiddles.Length; k++) twiddles[k] = Complex.FromPolarCoordinates(1, -2 * Math.PI * k / frameLength);
    }

    /// <summary>c₀ … c_M of one windowed frame of <see cref="FrameLength"/> samples.</summary>
    public double[] Analyze(ReadOnlySpan<float> frame)
    {
        if (frame.Length != FrameLength) throw new InvalidInputException($"mel-cepstrum of a frame of {frame.Length} samples; expected {FrameLength}");
        int n = FrameLength, half = n / 2, m = Order;
        var buffer = new Complex[n];
        for (var i = 0; i < n; i++) buffer[i] = frame[i];
        Fft(buffer);
        var periodogram = new double[n];
        var c = new double[n];
        for (var i = 0; i < n; i++)
        {
            periodogram[i] = buffer[i].Real * buffer[i].Real + buffer[i].Imaginary * buffer[i].Imaginary + Floor;
            if (!(periodogram[i] > 0)) throw new InvalidInputException("mel-cepstrum: the periodogram has a zero; raise the floor");
            c[i] = Math.Log(periodogram[i]);
        }
        // the real cepstrum, with the two unpaired terms halved, warped to the mel scale: the first guess
        InverseReal(c, buffer);
        c[0] /= 2;
        c[half] /= 2;
        var mc = Warp(c, half, m, Alpha);
        var powers = new double[m + 1];
        powers[0] = 1;
        for (var i = 1; i <= m; i++) powers[i] = -Alpha * powers[i - 1];

        var previous = c[0];
        var matrix = new double[(m + 1) * (m + 1)];
        var rhs = new double[m + 1];
        for (var iteration = 1; iteration <= MaxIterations; iteration++)
        {
            // log|H(e^jω)| from the current mel-cepstrum, then r(k): the warped autocorrelation of periodogram/|H|²
            var cepstrum = Warp(mc, m, half, -Alpha);
            Array.Clear(c);
            Array.Copy(cepstrum, c, half + 1);
            for (var i = 0; i < n; i++) buffer[i] = c[i];
            Fft(buffer);
            for (var i = 0; i < n; i++) c[i] = periodogram[i] / Math.Exp(2 * buffer[i].Real);
            InverseReal(c, buffer);
            var r = WarpAutocorrelation(c, half, 2 * m, Alpha);

            if (iteration >= MinIterations)
            {
                if (Math.Abs((r[0] - previous) / r[0]) < Tolerance) break;
                previous = r[0];
            }
            // (T + H)·δ = r − (−α)^k with T from t(k) and H from h(k); the gain term c₀ enters t and h specially
            for (var i = 0; i <= m; i++) rhs[i] = r[i] - powers[i];
            for (var i = 0; i <= m; i++)
                for (var j = 0; j <= m; j++)
                    matrix[i * (m + 1) + j] = Toeplitz(r, Math.Abs(i - j), m) + Hankel(r, i + j);
            var delta = Solve(matrix, rhs, m + 1);
            for (var i = 0; i <= m; i++) mc[i] += delta[i];
        }
        return mc;
    }

    static double Toeplitz(double[] r, int k, int m) => k == 0 ? 2 * r[0] : k % 2 == 0 && k <= m ? r[k] + r[0] : r[k];

    static double Hankel(double[] r, int k) => k % 2 == 0 ? r[k] - r[0] : r[k];

    /// <summary>The order-<paramref name="outputOrder"/> sequence of <paramref name="input"/>[0..inputOrder] seen through the all-pass warp α (SPTK's freqt).</summary>
    internal static double[] Warp(double[] input, int inputOrder, int outputOrder, double alpha)
    {
        var g = new double[outputOrder + 1];
        var d = new double[outputOrder + 1];
        var beta = 1 - alpha * alpha;
        for (var i = inputOrder; i >= 0; i--)
        {
            Array.Copy(g, d, g.Length);
            g[0] = input[i] + alpha * d[0];
            if (outputOrder >= 1) g[1] = beta * d[0] + alpha * d[1];
            for (var j = 2; j <= outputOrder; j++) g[j] = d[j - 1] + alpha * (d[j] - g[j - 1]);
        }
        return g;
    }

    /// <summary>The warp used for the autocorrelation (SPTK's frqtr): like <see cref="Warp"/> without the first-order correction.</summary>
    static double[] WarpAutocorrelation(double[] input, int inputOrder, int outputOrder, double alpha)
    {
        var g = new double[outputOrder + 1];
        var d = new double[outputOrder + 1];
        for (var i = inputOrder; i >= 0; i--)
        {
            Array.Copy(g, d, g.Length);
            g[0] = input[i];
            for (var j = 1; j <= outputOrder; j++) g[j] = d[j - 1] + alpha * (d[j] - g[j - 1]);
        }
        return g;
    }

    /// <summary>Gaussian elimination with partial pivoting; a (near-)singular system is an error, as in SPTK.</summary>
    static double[] Solve(double[] a, double[] b, int n)
    {
        var x = (double[])b.Clone();
        var m = (double[])a.Clone();
        for (var col = 0; col < n; col++)
        {
            var pivot = col;
            for (var row = col + 1; row < n; row++)
                if (Math.Abs(m[row * n + col]) > Math.Abs(m[pivot * n + col])) pivot = row;
            if (Math.Abs(m[pivot * n + col]) < 1e-300) throw new InvalidInputException("mel-cepstrum: the normal equations are singular for this frame");
            if (pivot != col)
            {
                for (var k = 0; k < n; k++) (m[col * n + k], m[pivot * n + k]) = (m[pivot * n + k], m[col * n + k]);
                (x[col], x[pivot]) = (x[pivot], x[col]);
            }
            for (var row = col + 1; row < n; row++)
            {
                var f = m[row * n + col] / m[col * n + col];
                if (f == 0) continue;
                for (var k = col; k < n; k++) m[row * n + k] -= f * m[col * n + k];
                x[row] -= f * x[col];
            }
        }
        for (var row = n - 1; row >= 0; row--)
        {
            var s = x[row];
            for (var k = row + 1; k < n; k++) s -= m[row * n + k] * x[k];
            x[row] = s / m[row * n + row];
        }
        return x;
    }

    /// <summary>Replaces <paramref name="values"/> by the real part of its inverse DFT (divided by n).</summary>
    void InverseReal(double[] values, Complex[] buffer)
    {
        var n = values.Length;
        for (var i = 0; i < n; i++) buffer[i] = new Complex(values[i], 0);
        Fft(buffer);
        // the inverse DFT at t is the forward DFT at n − t, divided by n
        for (var i = 0; i < n; i++) values[i] = buffer[(n - i) % n].Real / n;
    }

    /// <summary>In-place iterative radix-2 DFT, X[k] = Σ x[t]·e^(−2πikt/n).</summary>
    void Fft(Complex[] x)
    {
        var n = x.Length;
        for (int i = 1, j = 0; i < n; i++)
        {
            var bit = n >> 1;
            for (; (j & bit) != 0; bit >>= 1) j ^= bit;
            j ^= bit;
            if (i < j) (x[i], x[j]) = (x[j], x[i]);
        }
        for (var size = 2; size <= n; size <<= 1)
        {
            var step = n / size;
            for (var start = 0; start < n; start += size)
                for (var k = 0; k < size / 2; k++)
                {
                    var t = twiddles[k * step] * x[start + k + size / 2];
                    x[start + k + size / 2] = x[start + k] - t;
                    x[start + k] += t;
                }
        }
    }
}
