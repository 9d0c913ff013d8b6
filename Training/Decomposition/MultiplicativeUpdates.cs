using Pipeline.Shared.Threading;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Pipeline.Training.Linalg;

namespace Pipeline.Training.Decomposition;

/// <summary>The steps of a multiplicative-update fit of V ≈ W·H, dense or sparse, on W and H in place.</summary>
internal interface IMultiplicativeUpdates
{
    /// <summary>One update of H with W held fixed.</summary>
    void UpdateH();
    /// <summary>One update of W with H held fixed.</summary>
    void UpdateW();
    /// <summary>The current D_β(V | W·H).</summary>
    double Loss();
}

/// <summary>
/// One β-divergence multiplicative-update step of V ≈ W·H at a time, with every buffer allocated once.
/// Row-major layout: V (F, T), W (F, K), H (K, T).
/// <para>
/// The update of a factor P is P ← P ⊙ (N / D)^γ, where N and D are the negative and positive parts of the
/// gradient: for H, N = Wᵀ(V ⊙ Y^(β−2)) and D = Wᵀ Y^(β−1) with Y = W·H; for W the same with ·Hᵀ on the right.
/// γ = 1/(2−β) for β &lt; 1, 1 for 1 ≤ β ≤ 2 and 1/(β−1) for β &gt; 2 (Févotte and Idier, 2011), which makes
/// every step non-increasing. Closed forms avoid the F×T intermediates where they exist: β = 2 uses WᵀV and
/// WᵀW·H, β = 1 uses row and column sums for D. Otherwise N and D come from one GEMM over the two
/// intermediates stacked side by side, which is one pass over W instead of two.
/// </para>
/// <para>
/// Penalties (torchnmf's <c>alpha</c>, <c>l1_ratio</c>) add l1 + l2·P to D. Denominators are floored at ε.
/// </para>
/// </summary>
internal sealed class MultiplicativeUpdates : IMultiplicativeUpdates
{
    readonly float[] _v, _w, _h;
    readonly int _f, _t, _k;
    readonly double _beta;
    readonly float _gamma, _epsilon, _l1, _l2;
    readonly float[] _wh;          // W·H, then (for β = 1) V / W·H in place
    readonly float[]? _stacked;    // (F, 2T) for the H step, (2F, T) for the W step, β ∉ {1, 2}
    readonly float[] _gradH;       // K×2T: N and D of the H step (β = 2 and β = 1 use the first K×T only)
    readonly float[] _gradW;       // 2F×K: N and D of the W step
    readonly float[] _small;       // K×K Gram matrix (β = 2) or the length-K sums (β = 1)

    public MultiplicativeUpdates(float[] v, float[] w, float[] h, int features, int frames, int rank,
        double beta, float epsilon, float l1, float l2)
    {
        _v = v; _w = w; _h = h;
        _f = features; _t = frames; _k = rank;
        _beta = beta;
        _gamma = (float)BetaMu.Exponent(beta);
        _epsilon = epsilon; _l1 = l1; _l2 = l2;
        _wh = new float[(long)_f * _t];
        if (beta != 1 && beta != 2) _stacked = new float[2L * _f * _t];
        _gradH = new float[2L * _k * _t];
        _gradW = new float[2L * _f * _k];
        _small = new float[_k * _k];
    }

    /// <summary>W·H into the internal buffer, and returns it (valid until the next step).</summary>
    public float[] Reconstruct()
    {
        Blas.MatMul(_w, _h, _wh, _f, _k, _t);
        return _wh;
    }

    /// <summary>The current D_β(V | W·H).</summary>
    public double Loss() => BetaDivergence.Compute(_v, Reconstruct(), _beta, _epsilon);

    /// <summary>One update of H with W held fixed.</summary>
    public void UpdateH()
    {
        int f = _f, t = _t, k = _k;
        if (_beta == 2)
        {
            Blas.Gemm(true, false, k, t, f, 1f, _w, k, _v, t, 0f, _gradH, t);                 // N = WᵀV
            Blas.Gemm(true, false, k, k, f, 1f, _w, k, _w, k, 0f, _small, k);                 // WᵀW
            Blas.Gemm(false, false, k, t, k, 1f, _small, k, _h, t, 0f, _gradH.AsSpan(k * t), t); // D = WᵀW·H
            Parallel.For(0, k, ComputeThreads.Options, r => ApplyRow(_h.AsSpan(r * t, t), _gradH.AsSpan(r * t, t), _gradH.AsSpan(k * t + r * t, t)));
            return;
        }
        Reconstruct();
        if (_beta == 1)
        {
            RatioInPlace(_v, _wh, _epsilon);
            Blas.Gemm(true, false, k, t, f, 1f, _w, k, _wh, t, 0f, _gradH, t);                // N = Wᵀ(V / WH)
            ColumnSums(_w, f, k, _small);                                                     // D[r] = Σ_f W[f, r]
            Parallel.For(0, k, ComputeThreads.Options, r => ApplyRowScalarDenominator(_h.AsSpan(r * t, t), _gradH.AsSpan(r * t, t), _small[r]));
            return;
        }
        var stacked = _stacked!;
        Parallel.For(0, f, ComputeThreads.Options, row => PowerTerms(_v.AsSpan(row * t, t), _wh.AsSpan(row * t, t),
            stacked.AsSpan(row * 2 * t, t), stacked.AsSpan(row * 2 * t + t, t)));
        Blas.Gemm(true, false, k, 2 * t, f, 1f, _w, k, stacked, 2 * t, 0f, _gradH, 2 * t);   // [N | D] = Wᵀ[X | Y]
        Parallel.For(0, k, ComputeThreads.Options, r => ApplyRow(_h.AsSpan(r * t, t), _gradH.AsSpan(r * 2 * t, t), _gradH.AsSpan(r * 2 * t + t, t)));
    }

    /// <summary>One update of W with H held fixed.</summary>
    public void UpdateW()
    {
        int f = _f, t = _t, k = _k;
        var n = _gradW.AsSpan(0, f * k);
        if (_beta == 2)
        {
            Blas.Gemm(false, true, f, k, t, 1f, _v, t, _h, t, 0f, n, k);                        // N = V·Hᵀ
            Blas.Gemm(false, true, k, k, t, 1f, _h, t, _h, t, 0f, _small, k);                   // H·Hᵀ
            Blas.Gemm(false, false, f, k, k, 1f, _w, k, _small, k, 0f, _gradW.AsSpan(f * k), k); // D = W·H·Hᵀ
            ApplyAll(f * k);
            return;
        }
        Reconstruct();
        if (_beta == 1)
        {
            RatioInPlace(_v, _wh, _epsilon);
            Blas.Gemm(false, true, f, k, t, 1f, _wh, t, _h, t, 0f, n, k);                       // N = (V / WH)·Hᵀ
            RowSums(_h, k, t, _small);                                                         // D[r] = Σ_t H[r, t]
            var d = _gradW.AsSpan(f * k, f * k);
            for (var row = 0; row < f; row++) _small.AsSpan(0, k).CopyTo(d.Slice(row * k, k));
            ApplyAll(f * k);
            return;
        }
        var stacked = _stacked!;
        var ft = f * t;
        Parallel.For(0, f, ComputeThreads.Options, row => PowerTerms(_v.AsSpan(row * t, t), _wh.AsSpan(row * t, t),
            stacked.AsSpan(row * t, t), stacked.AsSpan(ft + row * t, t)));
        Blas.Gemm(false, true, 2 * f, k, t, 1f, stacked, t, _h, t, 0f, _gradW, k);             // [N; D] = [X; Y]·Hᵀ
        ApplyAll(f * k);
    }

    void ApplyAll(int count) => ApplyRow(_w.AsSpan(0, count), _gradW.AsSpan(0, count), _gradW.AsSpan(count, count));

    void ApplyRow(Span<float> p, ReadOnlySpan<float> numerator, ReadOnlySpan<float> denominator)
    {
        for (var i = 0; i < p.Length; i++)
        {
            var d = MathF.Max(denominator[i] + _l1 + _l2 * p[i], _epsilon);
            var ratio = numerator[i] / d;
            p[i] *= _gamma == 1f ? ratio : MathF.Pow(ratio, _gamma);
        }
    }

    void ApplyRowScalarDenominator(Span<float> p, ReadOnlySpan<float> numerator, float denominator)
    {
        for (var i = 0; i < p.Length; i++)
        {
            var d = MathF.Max(denominator + _l1 + _l2 * p[i], _epsilon);
            p[i] *= numerator[i] / d;
        }
    }

    /// <summary>wh ← v / max(wh, ε) in one vectorised pass, split across cores.</summary>
    internal static void RatioInPlace(float[] v, float[] wh, float epsilon)
    {
        const int Block = 1 << 16;
        var blocks = (wh.Length + Block - 1) / Block;
        Parallel.For(0, blocks, ComputeThreads.Options, b =>
        {
            var start = b * Block;
            var count = Math.Min(Block, wh.Length - start);
            Ratio(v.AsSpan(start, count), wh.AsSpan(start, count), epsilon);
        });
    }

    static void Ratio(ReadOnlySpan<float> v, Span<float> y, float epsilon)
    {
        var floor = new Vector<float>(epsilon);
        var vv = MemoryMarshal.Cast<float, Vector<float>>(v);
        var vy = MemoryMarshal.Cast<float, Vector<float>>(y);
        for (var i = 0; i < vy.Length; i++) vy[i] = vv[i] / Vector.Max(vy[i], floor);
        for (var i = vy.Length * Vector<float>.Count; i < y.Length; i++) y[i] = v[i] / MathF.Max(y[i], epsilon);
    }

    /// <summary>x = v·y^(β−2) and d = y^(β−1) with y = max(wh, ε), the two operands of the general step.</summary>
    void PowerTerms(ReadOnlySpan<float> v, ReadOnlySpan<float> wh, Span<float> x, Span<float> d)
    {
        if (_beta == 0)
        {
            // Itakura-Saito: d = 1/y, x = v/y², in one vectorised pass.
            var floor = new Vector<float>(_epsilon);
            var one = Vector<float>.One;
            var vv = MemoryMarshal.Cast<float, Vector<float>>(v);
            var vw = MemoryMarshal.Cast<float, Vector<float>>(wh);
            var vx = MemoryMarshal.Cast<float, Vector<float>>(x);
            var vd = MemoryMarshal.Cast<float, Vector<float>>(d);
            for (var i = 0; i < vw.Length; i++)
            {
                var r = one / Vector.Max(vw[i], floor);
                vd[i] = r;
                vx[i] = vv[i] * r * r;
            }
            for (var i = vw.Length * Vector<float>.Count; i < wh.Length; i++)
            {
                var r = 1f / MathF.Max(wh[i], _epsilon);
                d[i] = r;
                x[i] = v[i] * r * r;
            }
            return;
        }
        TensorPrimitives.Max(wh, _epsilon, d);
        TensorPrimitives.Pow(d, (float)(_beta - 2), x);        // x = y^(β−2)
        TensorPrimitives.Multiply(x, d, d);                    // d = y^(β−1)
        TensorPrimitives.Multiply(x, v, x);                    // x = v·y^(β−2)
    }

    static void ColumnSums(float[] m, int rows, int columns, float[] sums)
    {
        var s = sums.AsSpan(0, columns);
        s.Clear();
        for (var r = 0; r < rows; r++) TensorPrimitives.Add(s, m.AsSpan(r * columns, columns), s);
    }

    static void RowSums(float[] m, int rows, int columns, float[] sums)
    {
        for (var r = 0; r < rows; r++) sums[r] = TensorPrimitives.Sum(m.AsSpan(r * columns, columns));
    }
}
