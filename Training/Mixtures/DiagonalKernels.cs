using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Pipeline.Training.Mixtures;

/// <summary>
/// AVX-512 kernels for diagonal EM over one cache-resident block of rows, reading the centred samples x alone:
/// x² is made in registers. The E-step's xₙ·a + xₙ²·b is taken as xₙ·(a + xₙ·b) (Horner): two FMAs per element and
/// component group, as with a stored [x, x²], but half the samples' bytes and one broadcast load per two FMAs
/// instead of per one. The M-step's Σ rₙ·xₙ and Σ rₙ·xₙ² share each loaded x. Rows hold dp floats, a multiple of
/// 16 (zero columns pad them; their coefficients are zero too); the 16 components are one register.
/// </summary>
internal static unsafe class DiagonalKernels
{
    const int Lanes = 16;

    /// <summary>
    /// q (rows, 16) = Σⱼ xⱼ·(a[j] + xⱼ·b[j]) per row, with <paramref name="a"/> and <paramref name="b"/> (dp, 16)
    /// one register of component coefficients per dimension.
    /// </summary>
    public static void Products(float* x, int rows, int dp, float* a, float* b, float* q)
    {
        // the block's cache lines requested up front, in order, as in SkinnyProducts (eight rows are eight short
        // streams, which the hardware prefetcher does not follow)
        if (Sse.IsSupported)
            for (long at = 0, end = (long)rows * dp; at < end; at += Lanes) Sse.Prefetch0(x + at);
        var s = 0;
        for (; s + 8 <= rows; s += 8) Products8(x + (long)s * dp, dp, a, b, q + (long)s * Lanes);
        for (; s < rows; s++) Products1(x + (long)s * dp, dp, a, b, q + (long)s * Lanes);
    }

    // eight rows' 16 products in eight registers; per dimension two coefficient loads, and per row one broadcast
    // and two FMAs
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Products8(float* x, nint dp, float* a, float* b, float* q)
    {
        float* x0 = x, x1 = x + dp, x2 = x + 2 * dp, x3 = x + 3 * dp, x4 = x + 4 * dp, x5 = x + 5 * dp, x6 = x + 6 * dp, x7 = x + 7 * dp;
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        for (nint j = 0; j < dp; j++, a += Lanes, b += Lanes)
        {
            var av = Vector512.Load(a);
            var bv = Vector512.Load(b);
            var w = Vector512.Create(x0[j]); c0 = Vector512.FusedMultiplyAdd(w, Vector512.FusedMultiplyAdd(w, bv, av), c0);
            w = Vector512.Create(x1[j]); c1 = Vector512.FusedMultiplyAdd(w, Vector512.FusedMultiplyAdd(w, bv, av), c1);
            w = Vector512.Create(x2[j]); c2 = Vector512.FusedMultiplyAdd(w, Vector512.FusedMultiplyAdd(w, bv, av), c2);
            w = Vector512.Create(x3[j]); c3 = Vector512.FusedMultiplyAdd(w, Vector512.FusedMultiplyAdd(w, bv, av), c3);
            w = Vector512.Create(x4[j]); c4 = Vector512.FusedMultiplyAdd(w, Vector512.FusedMultiplyAdd(w, bv, av), c4);
            w = Vector512.Create(x5[j]); c5 = Vector512.FusedMultiplyAdd(w, Vector512.FusedMultiplyAdd(w, bv, av), c5);
            w = Vector512.Create(x6[j]); c6 = Vector512.FusedMultiplyAdd(w, Vector512.FusedMultiplyAdd(w, bv, av), c6);
            w = Vector512.Create(x7[j]); c7 = Vector512.FusedMultiplyAdd(w, Vector512.FusedMultiplyAdd(w, bv, av), c7);
        }
        c0.Store(q); c1.Store(q + Lanes); c2.Store(q + 2 * Lanes); c3.Store(q + 3 * Lanes);
        c4.Store(q + 4 * Lanes); c5.Store(q + 5 * Lanes); c6.Store(q + 6 * Lanes); c7.Store(q + 7 * Lanes);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Products1(float* x, nint dp, float* a, float* b, float* q)
    {
        var c = Vector512<float>.Zero;
        for (nint j = 0; j < dp; j++, a += Lanes, b += Lanes)
        {
            var w = Vector512.Create(x[j]);
            c = Vector512.FusedMultiplyAdd(w, Vector512.FusedMultiplyAdd(w, Vector512.Load(b), Vector512.Load(a)), c);
        }
        c.Store(q);
    }

    /// <summary>
    /// sums (16, 2·dp) += Σ over the rows of r[c]·x (columns [0, dp) of component c's row) and r[c]·x² (columns
    /// [dp, 2·dp)), with <paramref name="r"/> (rows, 16).
    /// </summary>
    public static void Moments(float* r, float* x, int rows, int dp, float* sums)
    {
        for (var c = 0; c < Lanes; c += 8)
            for (var v = 0; v < dp; v += Lanes)
                Moments8x1(r + c, x + v, rows, dp, sums + (long)c * 2 * dp + v, 2 * dp);
    }

    // eight components × 16 columns of Σ r·x and of Σ r·x²: sixteen registers of sums; per row one load, one
    // square, and sixteen FMAs on eight broadcast weights
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Moments8x1(float* r, float* x, int rows, nint dp, float* s, nint lds)
    {
        var sq = s + lds / 2;
        Vector512<float> x0 = Vector512.Load(s), x1 = Vector512.Load(s + lds), x2 = Vector512.Load(s + 2 * lds), x3 = Vector512.Load(s + 3 * lds);
        Vector512<float> x4 = Vector512.Load(s + 4 * lds), x5 = Vector512.Load(s + 5 * lds), x6 = Vector512.Load(s + 6 * lds), x7 = Vector512.Load(s + 7 * lds);
        Vector512<float> q0 = Vector512.Load(sq), q1 = Vector512.Load(sq + lds), q2 = Vector512.Load(sq + 2 * lds), q3 = Vector512.Load(sq + 3 * lds);
        Vector512<float> q4 = Vector512.Load(sq + 4 * lds), q5 = Vector512.Load(sq + 5 * lds), q6 = Vector512.Load(sq + 6 * lds), q7 = Vector512.Load(sq + 7 * lds);
        for (var row = 0; row < rows; row++, r += Lanes, x += dp)
        {
            var y = Vector512.Load(x);
            var y2 = y * y;
            var w = Vector512.Create(r[0]); x0 = Vector512.FusedMultiplyAdd(w, y, x0); q0 = Vector512.FusedMultiplyAdd(w, y2, q0);
            w = Vector512.Create(r[1]); x1 = Vector512.FusedMultiplyAdd(w, y, x1); q1 = Vector512.FusedMultiplyAdd(w, y2, q1);
            w = Vector512.Create(r[2]); x2 = Vector512.FusedMultiplyAdd(w, y, x2); q2 = Vector512.FusedMultiplyAdd(w, y2, q2);
            w = Vector512.Create(r[3]); x3 = Vector512.FusedMultiplyAdd(w, y, x3); q3 = Vector512.FusedMultiplyAdd(w, y2, q3);
            w = Vector512.Create(r[4]); x4 = Vector512.FusedMultiplyAdd(w, y, x4); q4 = Vector512.FusedMultiplyAdd(w, y2, q4);
            w = Vector512.Create(r[5]); x5 = Vector512.FusedMultiplyAdd(w, y, x5); q5 = Vector512.FusedMultiplyAdd(w, y2, q5);
            w = Vector512.Create(r[6]); x6 = Vector512.FusedMultiplyAdd(w, y, x6); q6 = Vector512.FusedMultiplyAdd(w, y2, q6);
            w = Vector512.Create(r[7]); x7 = Vector512.FusedMultiplyAdd(w, y, x7); q7 = Vector512.FusedMultiplyAdd(w, y2, q7);
        }
        x0.Store(s); x1.Store(s + lds); x2.Store(s + 2 * lds); x3.Store(s + 3 * lds);
        x4.Store(s + 4 * lds); x5.Store(s + 5 * lds); x6.Store(s + 6 * lds); x7.Store(s + 7 * lds);
        q0.Store(sq); q1.Store(sq + lds); q2.Store(sq + 2 * lds); q3.Store(sq + 3 * lds);
        q4.Store(sq + 4 * lds); q5.Store(sq + 5 * lds); q6.Store(sq + 6 * lds); q7.Store(sq + 7 * lds);
    }
}
