using Pipeline.Shared.Threading;
using Pipeline.Training.Engine;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;
using Pipeline.Training.Trainers;

namespace Pipeline.Training.Decomposition;

/// <summary>The steps of a multiplicative-update fit of an <see cref="NmfComponent"/>, on its W and H in place.</summary>
internal interface IMultiplicativeUpdates : IDisposable
{
    /// <summary>One update of H with W held fixed.</summary>
    void UpdateH();
    /// <summary>One update of W with H held fixed.</summary>
    void UpdateW();
    /// <summary>The current D_β(V | reconstruction).</summary>
    double Loss();
}

/// <summary>
/// The CPU fast path of <see cref="BetaMu"/> on an <see cref="NmfComponent"/>: the same β-divergence multiplicative
/// updates (and penalties, floors and exponent), written as closed forms whose products are LibTorch's GEMM into
/// buffers allocated once and whose elementwise parts are single vectorised passes over the tensors' own memory.
/// torchnmf's layout: V (T, F), W (F, K), H (T, K), reconstruction H·Wᵀ.
/// <para>
/// The update of a factor P is P ← P ⊙ (N / D)^γ, where N and D are the negative and positive parts of the
/// gradient: for H, N = (V ⊙ Y^(β−2))·W and D = Y^(β−1)·W with Y = H·Wᵀ; for W the same with ᵀ·H.
/// Closed forms avoid the T×F intermediates where they exist: β = 2 uses V·W and H·(WᵀW), β = 1 uses
/// column sums for D. Penalties add l1 + l2·P to D; D is floored at ε.
/// </para>
/// </summary>
internal sealed class MultiplicativeUpdates : IMultiplicativeUpdates
{
    readonly Tensor _v, _w, _h;
    readonly int _f, _t, _k;
    readonly double _beta;
    readonly float _gamma, _epsilon, _l1, _l2;
    readonly Tensor _y;              // H·Wᵀ (T, F), then (β = 1) V / H·Wᵀ in place, or (other β) V·Y^(β−2)
    readonly Tensor? _d;             // Y^(β−1) (T, F), β ∉ {1, 2}
    readonly Tensor _numeratorH, _denominatorH; // (T, K)
    readonly Tensor _numeratorW, _denominatorW; // (F, K)
    readonly Tensor _small;          // (K, K) Gram matrix

    /// <summary>Whether the fast path applies: every tensor float32, contiguous and on the CPU.</summary>
    public static bool Applies(Tensor v, NmfComponent model) => TorchArrays.CpuFloat32(v, model.W, model.H);

    /// <param name="v">V (T, F), float32, contiguous, on the CPU.</param>
    public MultiplicativeUpdates(Tensor v, NmfComponent model, double beta, float epsilon, float l1, float l2)
    {
        if (!Applies(v, model)) throw new ArgumentException("the fused multiplicative updates need float32, contiguous CPU tensors");
        (_v, _w, _h) = (v, model.W, model.H);
        (_t, _f, _k) = ((int)v.shape[0], (int)v.shape[1], (int)_w.shape[1]);
        _beta = beta;
        _gamma = (float)BetaMu.Exponent(beta);
        (_epsilon, _l1, _l2) = (epsilon, l1, l2);
        _y = empty(_t, _f);
        if (beta != 1 && beta != 2) _d = empty(_t, _f);
        (_numeratorH, _denominatorH) = (empty(_t, _k), empty(_t, _k));
        (_numeratorW, _denominatorW) = (empty(_f, _k), empty(_f, _k));
        _small = empty(_k, _k);
    }

    /// <summary>Y = H·Wᵀ into the internal buffer, and returns it (valid until the next step).</summary>
    Tensor Reconstruct()
    {
        using var _ = no_grad();
        using var wt = _w.t();
        return _y.addmm_(_h, wt, beta: 0);
    }

    public double Loss()
    {
        using var _ = no_grad();
        return BetaDivergence.Compute(TorchArrays.Float32Pointer(_v), TorchArrays.Float32Pointer(Reconstruct()), _v.numel(), _beta, _epsilon);
    }

    public void UpdateH()
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope(); // the transposed views and sums of the step
        if (_beta == 2)
        {
            _numeratorH.addmm_(_v, _w, beta: 0);                       // N = V·W
            _small.addmm_(_w.t(), _w, beta: 0);                        // WᵀW
            _denominatorH.addmm_(_h, _small, beta: 0);                 // D = H·WᵀW
            Apply(_h, _numeratorH, _denominatorH);
            return;
        }
        Reconstruct();
        if (_beta == 1)
        {
            RatioInPlace(_v, _y, _epsilon);
            _numeratorH.addmm_(_y, _w, beta: 0);                       // N = (V / Y)·W
            using var sums = _w.sum([0L]);                            // D[r] = Σ_f W[f, r]
            ApplyColumnDenominator(_h, _numeratorH, sums);
            return;
        }
        PowerTerms();
        _numeratorH.addmm_(_y, _w, beta: 0);                           // N = (V·Y^(β−2))·W
        _denominatorH.addmm_(_d!, _w, beta: 0);                        // D = Y^(β−1)·W
        Apply(_h, _numeratorH, _denominatorH);
    }

    public void UpdateW()
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope(); // the transposed views and sums of the step
        if (_beta == 2)
        {
            _numeratorW.addmm_(_v.t(), _h, beta: 0);                   // N = Vᵀ·H
            _small.addmm_(_h.t(), _h, beta: 0);                        // HᵀH
            _denominatorW.addmm_(_w, _small, beta: 0);                 // D = W·HᵀH
            Apply(_w, _numeratorW, _denominatorW);
            return;
        }
        Reconstruct();
        if (_beta == 1)
        {
            RatioInPlace(_v, _y, _epsilon);
            _numeratorW.addmm_(_y.t(), _h, beta: 0);                   // N = (V / Y)ᵀ·H
            using var sums = _h.sum([0L]);                            // D[r] = Σ_t H[t, r]
            ApplyColumnDenominator(_w, _numeratorW, sums);
            return;
        }
        PowerTerms();
        _numeratorW.addmm_(_y.t(), _h, beta: 0);
        _denominatorW.addmm_(_d!.t(), _h, beta: 0);
        Apply(_w, _numeratorW, _denominatorW);
    }

    public void Dispose()
    {
        foreach (var buffer in new[] { _y, _d, _numeratorH, _denominatorH, _numeratorW, _denominatorW, _small }) buffer?.Dispose();
    }

    /// <summary>p ← p ⊙ (n / max(d + l1 + l2·p, ε))^γ over every element, vectorised, in blocks across the compute threads.</summary>
    void Apply(Tensor p, Tensor n, Tensor d) => ForBlocks(p.numel(), (start, count) =>
    {
        Span<float> pp = Span(p, start, count), nn = Span(n, start, count), dd = Span(d, start, count);
        Span<Vector<float>> vp = MemoryMarshal.Cast<float, Vector<float>>(pp), vn = MemoryMarshal.Cast<float, Vector<float>>(nn),
            vd = MemoryMarshal.Cast<float, Vector<float>>(dd);
        var (l1, l2, floor) = (new Vector<float>(_l1), new Vector<float>(_l2), new Vector<float>(_epsilon));
        for (var i = 0; i < vp.Length; i++) vd[i] = vn[i] / Vector.Max(vd[i] + l1 + l2 * vp[i], floor); // d ← the ratio
        for (var i = vp.Length * Vector<float>.Count; i < pp.Length; i++) dd[i] = nn[i] / MathF.Max(dd[i] + _l1 + _l2 * pp[i], _epsilon);
        if (_gamma != 1f) TensorPrimitives.Pow(dd, _gamma, dd);
        TensorPrimitives.Multiply(pp, dd, pp);
    });

    /// <summary>β = 1: p[i, r] ← p[i, r]·n[i, r] / max(d[r] + l1 + l2·p[i, r], ε) (γ is 1).</summary>
    void ApplyColumnDenominator(Tensor p, Tensor n, Tensor d)
    {
        var k = _k;
        var sums = Span(d, 0, k).ToArray();
        ForBlocks(p.shape[0], (row0, rows) =>
        {
            Span<float> pp = Span(p, row0 * k, rows * k), nn = Span(n, row0 * k, rows * k);
            for (var i = 0; i < pp.Length; i++)
                pp[i] *= nn[i] / MathF.Max(sums[i % k] + _l1 + _l2 * pp[i], _epsilon);
        }, grain: Math.Max(1, (1 << 14) / k));
    }

    /// <summary>y ← v / max(y, ε) in one vectorised pass, split across cores.</summary>
    static void RatioInPlace(Tensor v, Tensor y, float epsilon) => ForBlocks(y.numel(), (start, count) =>
    {
        Span<float> vv = Span(v, start, count), yy = Span(y, start, count);
        var floor = new Vector<float>(epsilon);
        var vector = MemoryMarshal.Cast<float, Vector<float>>(vv);
        var ys = MemoryMarshal.Cast<float, Vector<float>>(yy);
        for (var i = 0; i < ys.Length; i++) ys[i] = vector[i] / Vector.Max(ys[i], floor);
        for (var i = ys.Length * Vector<float>.Count; i < yy.Length; i++) yy[i] = vv[i] / MathF.Max(yy[i], epsilon);
    });

    /// <summary>With y = max(Y, ε): Y ← v·y^(β−2) and D ← y^(β−1), the two operands of the general step.</summary>
    void PowerTerms() => ForBlocks(_y.numel(), (start, count) =>
    {
        Span<float> v = Span(_v, start, count), x = Span(_y, start, count), d = Span(_d!, start, count);
        if (_beta == 0)
        {
            // Itakura-Saito: d = 1/y, x = v/y², in one vectorised pass
            var floor = new Vector<float>(_epsilon);
            Span<Vector<float>> vv = MemoryMarshal.Cast<float, Vector<float>>(v), vx = MemoryMarshal.Cast<float, Vector<float>>(x), vd = MemoryMarshal.Cast<float, Vector<float>>(d);
            for (var i = 0; i < vx.Length; i++)
            {
                var r = Vector<float>.One / Vector.Max(vx[i], floor);
                vd[i] = r;
                vx[i] = vv[i] * r * r;
            }
            for (var i = vx.Length * Vector<float>.Count; i < x.Length; i++)
            {
                var r = 1f / MathF.Max(x[i], _epsilon);
                d[i] = r;
                x[i] = v[i] * r * r;
            }
            return;
        }
        TensorPrimitives.Max(x, _epsilon, d);                  // d = y
        TensorPrimitives.Pow(d, (float)(_beta - 2), x);        // x = y^(β−2)
        TensorPrimitives.Multiply(x, d, d);                    // d = y^(β−1)
        TensorPrimitives.Multiply(x, v, x);                    // x = v·y^(β−2)
    });

    static unsafe Span<float> Span(Tensor t, long start, long count) =>
        new((float*)TorchArrays.Float32Pointer(t) + start, checked((int)count));

    /// <summary>Runs <paramref name="body"/> over [0, <paramref name="length"/>) in blocks of <paramref name="grain"/>, on the compute threads.</summary>
    static void ForBlocks(long length, Action<long, long> body, long grain = 1 << 16)
    {
        var blocks = (int)((length + grain - 1) / grain);
        if (blocks <= 1) { body(0, length); return; }
        Parallel.For(0, blocks, ComputeThreads.Options, b =>
        {
            var start = b * grain;
            body(start, Math.Min(grain, length - start));
        });
    }
}
