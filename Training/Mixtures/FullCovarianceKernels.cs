using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Pipeline.Shared.Threading;

namespace Pipeline.Training.Mixtures;

/// <summary>
/// AVX-512 kernels for full-covariance EM, which spends its time in two products per component: the E-step's
/// quadratic forms ‖[x 1]·[P; −μP]‖² (P the upper-triangular precision factor) and the M-step's scatter
/// Σ rₙ (xₙ − μ)(xₙ − μ)ᵀ. Both touch only an upper triangle, so they run on it alone (5/8 of the square's work
/// at D = 64), in 8-row × 2-vector register tiles over cache-resident blocks of samples; the quadratic form is
/// summed in registers and never stored. OpenBLAS runs these shapes (inner dimension 65; a 64 × 64 result over
/// 100 000 samples) at under half its square-matrix rate. Dimensions are padded with zeros to a multiple of 16.
/// </summary>
internal static unsafe class FullCovarianceKernels
{
    public const int Lanes = 16;
    const int Rows = 8;
    // E: samples per parallel task, and per sub-block that stays in L1 beside one component's factor
    const int QuadraticTaskRows = 512, QuadraticBlockRows = 64;
    // M: fixed chunks (sums are added chunk by chunk in order, so results do not depend on the thread count),
    // and the sub-block of centred, weighted samples built per component in L1
    const int ScatterChunkRows = 4096, ScatterBlockRows = 128;

    public static bool Accelerated => Vector512.IsHardwareAccelerated;

    /// <summary>D rounded up to whole 16-float vectors.</summary>
    public static int Padded(int d) => (d + Lanes - 1) / Lanes * Lanes;

    /// <summary>
    /// q[n·ldq + c] = scale·‖[xₙ 1]·Fc‖² for every sample and component: <paramref name="x"/> (n, dp) zero-padded,
    /// <paramref name="factors"/> k blocks of (dp + 1, dp), each an upper-triangular P (zero-padded) followed by its
    /// shift row −μP.
    /// </summary>
    public static void QuadraticForms(float[] x, int n, int dp, float[] factors, int k, float scale, float[] q, int ldq)
    {
        var tasks = (n + QuadraticTaskRows - 1) / QuadraticTaskRows;
        Parallel.For(0, tasks, ComputeThreads.Options, task =>
        {
            var tail = ArrayPool<float>.Shared.Rent(Rows * dp);
            Span<float> sums = stackalloc float[Rows];
            var first = task * QuadraticTaskRows;
            var last = Math.Min(n, first + QuadraticTaskRows);
            fixed (float* px = x, pf = factors, pq = q, pt = tail)
                for (var start = first; start < last; start += QuadraticBlockRows)
                {
                    var end = Math.Min(last, start + QuadraticBlockRows);
                    for (var c = 0; c < k; c++)
                    {
                        var f = pf + (long)c * (dp + 1) * dp;
                        for (var s = start; s < end; s += Rows)
                        {
                            var rows = Math.Min(Rows, end - s);
                            var rowsAt = px + (long)s * dp;
                            if (rows < Rows)
                            {
                                // the last few samples go through a zero-padded copy of a whole tile
                                new Span<float>(pt, Rows * dp).Clear();
                                new ReadOnlySpan<float>(rowsAt, rows * dp).CopyTo(new Span<float>(pt, Rows * dp));
                                rowsAt = pt;
                            }
                            fixed (float* ps = sums) Quadratic8(rowsAt, f, dp, ps);
                            for (var r = 0; r < rows; r++) pq[(long)(s + r) * ldq + c] = scale * sums[r];
                        }
                    }
                }
            ArrayPool<float>.Shared.Return(tail);
        });
    }

    /// <summary>
    /// Upper triangles of Sc = Σₙ rₙc (xₙ − μc)(xₙ − μc)ᵀ, (k, d, d) in double: <paramref name="x"/> (n, dp)
    /// zero-padded, <paramref name="r"/> (n, ldr) weights, <paramref name="means"/> (k, dp) zero-padded. The
    /// strictly lower triangles are left at zero.
    /// </summary>
    public static void Scatter(float[] x, float[] r, int ldr, int n, int d, int dp, float[] means, int k, double[] result)
    {
        var chunks = (n + ScatterChunkRows - 1) / ScatterChunkRows;
        // chunks go in waves, so the float partial sums held at once stay a few megabytes for any n
        var wave = Math.Max(8, 2 * Environment.ProcessorCount);
        var partial = new float[(long)Math.Min(wave, chunks) * k * dp * dp];
        Array.Clear(result);
        for (var firstChunk = 0; firstChunk < chunks; firstChunk += wave)
        {
            var count = Math.Min(wave, chunks - firstChunk);
            Array.Clear(partial);
            Parallel.For(0, count, ComputeThreads.Options, slot =>
            {
                var z = ArrayPool<float>.Shared.Rent(ScatterBlockRows * dp);
                var first = (firstChunk + slot) * ScatterChunkRows;
                var last = Math.Min(n, first + ScatterChunkRows);
                fixed (float* px = x, pr = r, pm = means, pz = z, pp = partial)
                    for (var start = first; start < last; start += ScatterBlockRows)
                    {
                        var rows = Math.Min(ScatterBlockRows, last - start);
                        for (var c = 0; c < k; c++)
                        {
                            // z = √r (x − μ), one row per sample; the padding stays zero
                            var mean = pm + c * dp;
                            for (var s = 0; s < rows; s++)
                            {
                                var weight = Vector512.Create(MathF.Sqrt(pr[(long)(start + s) * ldr + c]));
                                float* source = px + (long)(start + s) * dp, target = pz + s * dp;
                                for (var j = 0; j < dp; j += Lanes)
                                    ((Vector512.Load(source + j) - Vector512.Load(mean + j)) * weight).Store(target + j);
                            }
                            var sums = pp + ((long)slot * k + c) * dp * dp;
                            for (var b = dp / Lanes - 1; b >= 0; b -= 2)
                                for (var i0 = 0; i0 < (b + 1) * Lanes; i0 += Rows)
                                    Scatter8(pz, rows, dp, i0, b - 1, b, sums);
                        }
                    }
                ArrayPool<float>.Shared.Return(z);
            });
            for (var slot = 0; slot < count; slot++)
                for (var c = 0; c < k; c++)
                {
                    var sums = partial.AsSpan((int)(((long)slot * k + c) * dp * dp), dp * dp);
                    for (var i = 0; i < d; i++)
                        for (var j = i; j < d; j++) result[(c * d + i) * d + j] += sums[i * dp + j];
                }
        }
    }

    // ‖[x 1]·F‖² for 8 rows of x (row stride dp). Column vectors go in pairs (a, b) counted from the right, so the
    // first pair may have no a (a = −1); rows i of F below (a + 1)·16 feed both vectors, the next 16 only b. Row
    // pointers and native-int indices keep the loops free of address arithmetic.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Quadratic8(float* x, float* f, nint dp, float* q)
    {
        float* x0 = x, x1 = x + dp, x2 = x + 2 * dp, x3 = x + 3 * dp, x4 = x + 4 * dp, x5 = x + 5 * dp, x6 = x + 6 * dp, x7 = x + 7 * dp;
        Vector512<float> q0 = default, q1 = default, q2 = default, q3 = default, q4 = default, q5 = default, q6 = default, q7 = default;
        var shift = f + dp * dp;
        for (nint b = dp / Lanes - 1; b >= 0; b -= 2)
        {
            var a = b - 1;
            var sa = a >= 0 ? Vector512.Load(shift + a * Lanes) : default;
            var sb = Vector512.Load(shift + b * Lanes);
            Vector512<float> a0 = sa, a1 = sa, a2 = sa, a3 = sa, a4 = sa, a5 = sa, a6 = sa, a7 = sa;
            Vector512<float> b0 = sb, b1 = sb, b2 = sb, b3 = sb, b4 = sb, b5 = sb, b6 = sb, b7 = sb;
            nint i = 0;
            float* fa = f + a * Lanes, fb = f + b * Lanes; // row i of F's two column vectors
            for (var both = (a + 1) * Lanes; i < both; i++, fa += dp, fb += dp)
            {
                var va = Vector512.Load(fa);
                var vb = Vector512.Load(fb);
                var w = Vector512.Create(x0[i]); a0 = Vector512.FusedMultiplyAdd(w, va, a0); b0 = Vector512.FusedMultiplyAdd(w, vb, b0);
                w = Vector512.Create(x1[i]); a1 = Vector512.FusedMultiplyAdd(w, va, a1); b1 = Vector512.FusedMultiplyAdd(w, vb, b1);
                w = Vector512.Create(x2[i]); a2 = Vector512.FusedMultiplyAdd(w, va, a2); b2 = Vector512.FusedMultiplyAdd(w, vb, b2);
                w = Vector512.Create(x3[i]); a3 = Vector512.FusedMultiplyAdd(w, va, a3); b3 = Vector512.FusedMultiplyAdd(w, vb, b3);
                w = Vector512.Create(x4[i]); a4 = Vector512.FusedMultiplyAdd(w, va, a4); b4 = Vector512.FusedMultiplyAdd(w, vb, b4);
                w = Vector512.Create(x5[i]); a5 = Vector512.FusedMultiplyAdd(w, va, a5); b5 = Vector512.FusedMultiplyAdd(w, vb, b5);
                w = Vector512.Create(x6[i]); a6 = Vector512.FusedMultiplyAdd(w, va, a6); b6 = Vector512.FusedMultiplyAdd(w, vb, b6);
                w = Vector512.Create(x7[i]); a7 = Vector512.FusedMultiplyAdd(w, va, a7); b7 = Vector512.FusedMultiplyAdd(w, vb, b7);
            }
            for (var end = (b + 1) * Lanes; i < end; i++, fb += dp)
            {
                var vb = Vector512.Load(fb);
                b0 = Vector512.FusedMultiplyAdd(Vector512.Create(x0[i]), vb, b0);
                b1 = Vector512.FusedMultiplyAdd(Vector512.Create(x1[i]), vb, b1);
                b2 = Vector512.FusedMultiplyAdd(Vector512.Create(x2[i]), vb, b2);
                b3 = Vector512.FusedMultiplyAdd(Vector512.Create(x3[i]), vb, b3);
                b4 = Vector512.FusedMultiplyAdd(Vector512.Create(x4[i]), vb, b4);
                b5 = Vector512.FusedMultiplyAdd(Vector512.Create(x5[i]), vb, b5);
                b6 = Vector512.FusedMultiplyAdd(Vector512.Create(x6[i]), vb, b6);
                b7 = Vector512.FusedMultiplyAdd(Vector512.Create(x7[i]), vb, b7);
            }
            q0 += a0 * a0 + b0 * b0; q1 += a1 * a1 + b1 * b1; q2 += a2 * a2 + b2 * b2; q3 += a3 * a3 + b3 * b3;
            q4 += a4 * a4 + b4 * b4; q5 += a5 * a5 + b5 * b5; q6 += a6 * a6 + b6 * b6; q7 += a7 * a7 + b7 * b7;
        }
        q[0] = Vector512.Sum(q0); q[1] = Vector512.Sum(q1); q[2] = Vector512.Sum(q2); q[3] = Vector512.Sum(q3);
        q[4] = Vector512.Sum(q4); q[5] = Vector512.Sum(q5); q[6] = Vector512.Sum(q6); q[7] = Vector512.Sum(q7);
    }

    // s[i0..i0+8, vectors a and b] += Σ over rows of z[i]·z[vector]: an 8-row tile of the scatter's upper part. A
    // vector a left of the tile's diagonal block (or absent, a = −1) is skipped.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Scatter8(float* z, int rows, nint dp, nint i0, nint a, nint b, float* s)
    {
        var ob = b * Lanes;
        var sb = s + i0 * dp + ob;
        Vector512<float> b0 = Vector512.Load(sb), b1 = Vector512.Load(sb + dp), b2 = Vector512.Load(sb + 2 * dp), b3 = Vector512.Load(sb + 3 * dp);
        Vector512<float> b4 = Vector512.Load(sb + 4 * dp), b5 = Vector512.Load(sb + 5 * dp), b6 = Vector512.Load(sb + 6 * dp), b7 = Vector512.Load(sb + 7 * dp);
        // per sample: zi → its 8 tile rows' entries, zb (and za) → its two column vectors
        float* zi = z + i0, zb = z + ob;
        if (a >= 0 && i0 < (a + 1) * Lanes)
        {
            var oa = a * Lanes;
            var sa = s + i0 * dp + oa;
            Vector512<float> a0 = Vector512.Load(sa), a1 = Vector512.Load(sa + dp), a2 = Vector512.Load(sa + 2 * dp), a3 = Vector512.Load(sa + 3 * dp);
            Vector512<float> a4 = Vector512.Load(sa + 4 * dp), a5 = Vector512.Load(sa + 5 * dp), a6 = Vector512.Load(sa + 6 * dp), a7 = Vector512.Load(sa + 7 * dp);
            float* za = z + oa;
            for (var row = 0; row < rows; row++, zi += dp, za += dp, zb += dp)
            {
                var va = Vector512.Load(za);
                var vb = Vector512.Load(zb);
                var w = Vector512.Create(zi[0]); a0 = Vector512.FusedMultiplyAdd(w, va, a0); b0 = Vector512.FusedMultiplyAdd(w, vb, b0);
                w = Vector512.Create(zi[1]); a1 = Vector512.FusedMultiplyAdd(w, va, a1); b1 = Vector512.FusedMultiplyAdd(w, vb, b1);
                w = Vector512.Create(zi[2]); a2 = Vector512.FusedMultiplyAdd(w, va, a2); b2 = Vector512.FusedMultiplyAdd(w, vb, b2);
                w = Vector512.Create(zi[3]); a3 = Vector512.FusedMultiplyAdd(w, va, a3); b3 = Vector512.FusedMultiplyAdd(w, vb, b3);
                w = Vector512.Create(zi[4]); a4 = Vector512.FusedMultiplyAdd(w, va, a4); b4 = Vector512.FusedMultiplyAdd(w, vb, b4);
                w = Vector512.Create(zi[5]); a5 = Vector512.FusedMultiplyAdd(w, va, a5); b5 = Vector512.FusedMultiplyAdd(w, vb, b5);
                w = Vector512.Create(zi[6]); a6 = Vector512.FusedMultiplyAdd(w, va, a6); b6 = Vector512.FusedMultiplyAdd(w, vb, b6);
                w = Vector512.Create(zi[7]); a7 = Vector512.FusedMultiplyAdd(w, va, a7); b7 = Vector512.FusedMultiplyAdd(w, vb, b7);
            }
            a0.Store(sa); a1.Store(sa + dp); a2.Store(sa + 2 * dp); a3.Store(sa + 3 * dp);
            a4.Store(sa + 4 * dp); a5.Store(sa + 5 * dp); a6.Store(sa + 6 * dp); a7.Store(sa + 7 * dp);
        }
        else
            for (var row = 0; row < rows; row++, zi += dp, zb += dp)
            {
                var vb = Vector512.Load(zb);
                b0 = Vector512.FusedMultiplyAdd(Vector512.Create(zi[0]), vb, b0);
                b1 = Vector512.FusedMultiplyAdd(Vector512.Create(zi[1]), vb, b1);
                b2 = Vector512.FusedMultiplyAdd(Vector512.Create(zi[2]), vb, b2);
                b3 = Vector512.FusedMultiplyAdd(Vector512.Create(zi[3]), vb, b3);
                b4 = Vector512.FusedMultiplyAdd(Vector512.Create(zi[4]), vb, b4);
                b5 = Vector512.FusedMultiplyAdd(Vector512.Create(zi[5]), vb, b5);
                b6 = Vector512.FusedMultiplyAdd(Vector512.Create(zi[6]), vb, b6);
                b7 = Vector512.FusedMultiplyAdd(Vector512.Create(zi[7]), vb, b7);
            }
        b0.Store(sb); b1.Store(sb + dp); b2.Store(sb + 2 * dp); b3.Store(sb + 3 * dp);
        b4.Store(sb + 4 * dp); b5.Store(sb + 5 * dp); b6.Store(sb + 6 * dp); b7.Store(sb + 7 * dp);
    }
}
