using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Pipeline.Shared.Threading;

namespace Pipeline.Training.Mixtures;

/// <summary>
/// Matrix products where one side has at most 16 columns and the other many rows: a mixture's E-step (N × D times
/// D × K) and M-step (K × N times N × D). OpenBLAS runs these shapes at a third of its square-matrix rate, so on
/// AVX-512 machines they run here instead: 16 components are exactly one 512-bit register, rows go through in
/// register tiles, and fixed row chunks in parallel. Elsewhere, or for wider shapes, the calls go to BLAS.
/// </summary>
internal static class SkinnyProducts
{
    const int Lanes = 16, ChunkRows = 4096;

    static bool Accelerated => Vector512.IsHardwareAccelerated;

    /// <summary>C (n × k) = A (n × m) · Bᵀ, with B (k × m), all row-major.</summary>
    public static unsafe void TimesTransposed(float[] a, ReadOnlySpan<float> b, float[] c, int n, int m, int k)
    {
        if (!Accelerated || k > Lanes || n < 64)
        {
            Blas.Gemm(false, true, n, k, m, 1f, a, m, b, m, 0f, c, k);
            return;
        }
        var bt = PackTransposed(b, k, m);
        var cArray = k == Lanes ? c : new float[n * Lanes];
        Parallel.For(0, (n + ChunkRows - 1) / ChunkRows, ComputeThreads.Options, chunk =>
            TimesPackedRows(a, m, bt, cArray, chunk * ChunkRows, Math.Min(n, (chunk + 1) * ChunkRows)));
        if (k != Lanes)
            for (var s = 0; s < n; s++) cArray.AsSpan(s * Lanes, k).CopyTo(c.AsSpan(s * k, k));
    }

    /// <summary>Bᵀ (B: k × m, k ≤ 16) padded to 16 columns, as <see cref="TimesPackedRows"/> reads it: row j holds B[0..k, j], one register.</summary>
    static float[] PackTransposed(ReadOnlySpan<float> b, int k, int m)
    {
        var bt = new float[m * Lanes];
        for (var row = 0; row < k; row++)
            for (var j = 0; j < m; j++) bt[j * Lanes + row] = b[row * m + j];
        return bt;
    }

    /// <summary>Rows [first, last) of C (16 columns) = the same rows of A (m columns) · packed Bᵀ, on the calling thread.</summary>
    static unsafe void TimesPackedRows(float[] a, int m, float[] bt, float[] c, int first, int last)
    {
        var s = first;
        fixed (float* pa = a, pb = bt, pc = c)
        {
            // a tile's eight rows are eight short streams within one page, which the hardware prefetcher does not
            // follow: request the rows' cache lines up front, in order, so the tiles read from cache
            if (System.Runtime.Intrinsics.X86.Sse.IsSupported)
                for (long at = (long)first * m, end = (long)last * m; at < end; at += 16) System.Runtime.Intrinsics.X86.Sse.Prefetch0(pa + at);
            for (; s + 8 <= last; s += 8) Tile8(pa + (long)s * m, m, pb, Lanes, m, pc + (long)s * Lanes, Lanes);
            for (; s < last; s++) Tile1(pa + (long)s * m, pb, Lanes, m, pc + (long)s * Lanes);
        }
    }

    /// <summary>S (k × m) = Rᵀ · A, with R (n × k) and A (n × m), all row-major; sums run over fixed row chunks added in order.</summary>
    public static void TransposeTimes(float[] r, float[] a, Span<float> s, int n, int k, int m)
    {
        if (!Accelerated || k > Lanes || m % Lanes != 0 || n < 64)
        {
            Blas.Gemm(true, false, k, m, n, 1f, r, k, a, m, 0f, s, m);
            return;
        }
        // R padded to a multiple of 4 components, so every register tile is full
        var kp = (k + 3) / 4 * 4;
        var rp = r;
        if (kp != k)
        {
            rp = new float[n * kp];
            for (var row = 0; row < n; row++) r.AsSpan(row * k, k).CopyTo(rp.AsSpan(row * kp, k));
        }
        var chunks = (n + ChunkRows - 1) / ChunkRows;
        var partial = new float[chunks * kp * m];
        Parallel.For(0, chunks, ComputeThreads.Options, chunk =>
        {
            int first = chunk * ChunkRows, last = Math.Min(n, first + ChunkRows);
            TransposeTimesRows(rp, a, partial.AsSpan(chunk * kp * m, kp * m), first, last, kp, m);
        });
        s[..(k * m)].Clear();
        for (var chunk = 0; chunk < chunks; chunk++)
            for (var c = 0; c < k; c++)
                System.Numerics.Tensors.TensorPrimitives.Add(s.Slice(c * m, m), partial.AsSpan(chunk * kp * m + c * m, m), s.Slice(c * m, m));
    }

    /// <summary>
    /// S (kp × m) += Rᵀ·A over rows [first, last), on the calling thread: R with kp (a multiple of 4) columns, A with m
    /// (a multiple of 16).
    /// </summary>
    static unsafe void TransposeTimesRows(float[] r, float[] a, Span<float> sums, int first, int last, int kp, int m)
    {
        fixed (float* pr = r, pa = a, ps = sums)
            // blocks of 256 rows stay in L2 while every (4 components × 64 columns) tile passes over them
            for (var start = first; start < last; start += 256)
            {
                var rows = Math.Min(last, start + 256) - start;
                for (var c = 0; c < kp; c += 4)
                {
                    var v = 0;
                    for (; v + 4 * Lanes <= m; v += 4 * Lanes) Tile4x4(pr + (long)start * kp + c, pa + (long)start * m + v, ps + c * m + v, rows, kp, m);
                    for (; v < m; v += Lanes) Tile4x1(pr + (long)start * kp + c, pa + (long)start * m + v, ps + c * m + v, rows, kp, m);
                }
            }
    }

    // S[c..c+4, v..v+64] += Σ over rows of r[row, c..c+4]ᵀ · a[row, v..v+64]: sixteen registers of sums, and per row
    // four loads, four broadcasts and sixteen FMAs, pointers stepping by one row
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void Tile4x4(float* r, float* a, float* s, int rows, nint kp, nint m)
    {
        float* s1 = s + m, s2 = s + 2 * m, s3 = s + 3 * m;
        Vector512<float> x00 = Vector512.Load(s), x01 = Vector512.Load(s + Lanes), x02 = Vector512.Load(s + 2 * Lanes), x03 = Vector512.Load(s + 3 * Lanes);
        Vector512<float> x10 = Vector512.Load(s1), x11 = Vector512.Load(s1 + Lanes), x12 = Vector512.Load(s1 + 2 * Lanes), x13 = Vector512.Load(s1 + 3 * Lanes);
        Vector512<float> x20 = Vector512.Load(s2), x21 = Vector512.Load(s2 + Lanes), x22 = Vector512.Load(s2 + 2 * Lanes), x23 = Vector512.Load(s2 + 3 * Lanes);
        Vector512<float> x30 = Vector512.Load(s3), x31 = Vector512.Load(s3 + Lanes), x32 = Vector512.Load(s3 + 2 * Lanes), x33 = Vector512.Load(s3 + 3 * Lanes);
        for (var row = 0; row < rows; row++, r += kp, a += m)
        {
            var y0 = Vector512.Load(a); var y1 = Vector512.Load(a + Lanes); var y2 = Vector512.Load(a + 2 * Lanes); var y3 = Vector512.Load(a + 3 * Lanes);
            var w = Vector512.Create(r[0]);
            x00 = Vector512.FusedMultiplyAdd(w, y0, x00); x01 = Vector512.FusedMultiplyAdd(w, y1, x01); x02 = Vector512.FusedMultiplyAdd(w, y2, x02); x03 = Vector512.FusedMultiplyAdd(w, y3, x03);
            w = Vector512.Create(r[1]);
            x10 = Vector512.FusedMultiplyAdd(w, y0, x10); x11 = Vector512.FusedMultiplyAdd(w, y1, x11); x12 = Vector512.FusedMultiplyAdd(w, y2, x12); x13 = Vector512.FusedMultiplyAdd(w, y3, x13);
            w = Vector512.Create(r[2]);
            x20 = Vector512.FusedMultiplyAdd(w, y0, x20); x21 = Vector512.FusedMultiplyAdd(w, y1, x21); x22 = Vector512.FusedMultiplyAdd(w, y2, x22); x23 = Vector512.FusedMultiplyAdd(w, y3, x23);
            w = Vector512.Create(r[3]);
            x30 = Vector512.FusedMultiplyAdd(w, y0, x30); x31 = Vector512.FusedMultiplyAdd(w, y1, x31); x32 = Vector512.FusedMultiplyAdd(w, y2, x32); x33 = Vector512.FusedMultiplyAdd(w, y3, x33);
        }
        x00.Store(s); x01.Store(s + Lanes); x02.Store(s + 2 * Lanes); x03.Store(s + 3 * Lanes);
        x10.Store(s1); x11.Store(s1 + Lanes); x12.Store(s1 + 2 * Lanes); x13.Store(s1 + 3 * Lanes);
        x20.Store(s2); x21.Store(s2 + Lanes); x22.Store(s2 + 2 * Lanes); x23.Store(s2 + 3 * Lanes);
        x30.Store(s3); x31.Store(s3 + Lanes); x32.Store(s3 + 2 * Lanes); x33.Store(s3 + 3 * Lanes);
    }

    // the same for one 16-column vector (the last columns when m is not a multiple of 64)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void Tile4x1(float* r, float* a, float* s, int rows, nint kp, nint m)
    {
        Vector512<float> x0 = Vector512.Load(s), x1 = Vector512.Load(s + m), x2 = Vector512.Load(s + 2 * m), x3 = Vector512.Load(s + 3 * m);
        for (var row = 0; row < rows; row++, r += kp, a += m)
        {
            var y = Vector512.Load(a);
            x0 = Vector512.FusedMultiplyAdd(Vector512.Create(r[0]), y, x0);
            x1 = Vector512.FusedMultiplyAdd(Vector512.Create(r[1]), y, x1);
            x2 = Vector512.FusedMultiplyAdd(Vector512.Create(r[2]), y, x2);
            x3 = Vector512.FusedMultiplyAdd(Vector512.Create(r[3]), y, x3);
        }
        x0.Store(s); x1.Store(s + m); x2.Store(s + 2 * m); x3.Store(s + 3 * m);
    }

    /// <summary>
    /// One 8-row × 16-column tile of C over the whole inner dimension: the 8 × 16 results stay in registers. Row
    /// pointers and a native-int index keep each step to one load, eight broadcast FMAs and no address arithmetic.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void Tile8(float* a, nint lda, float* b, nint ldb, nint k, float* c, nint ldc)
    {
        float* a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda, a4 = a + 4 * lda, a5 = a + 5 * lda, a6 = a + 6 * lda, a7 = a + 7 * lda;
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default, c7 = default;
        for (nint kk = 0; kk < k; kk++, b += ldb)
        {
            var bk = Vector512.Load(b);
            c0 = Vector512.FusedMultiplyAdd(Vector512.Create(a0[kk]), bk, c0);
            c1 = Vector512.FusedMultiplyAdd(Vector512.Create(a1[kk]), bk, c1);
            c2 = Vector512.FusedMultiplyAdd(Vector512.Create(a2[kk]), bk, c2);
            c3 = Vector512.FusedMultiplyAdd(Vector512.Create(a3[kk]), bk, c3);
            c4 = Vector512.FusedMultiplyAdd(Vector512.Create(a4[kk]), bk, c4);
            c5 = Vector512.FusedMultiplyAdd(Vector512.Create(a5[kk]), bk, c5);
            c6 = Vector512.FusedMultiplyAdd(Vector512.Create(a6[kk]), bk, c6);
            c7 = Vector512.FusedMultiplyAdd(Vector512.Create(a7[kk]), bk, c7);
        }
        c0.Store(c); c1.Store(c + ldc); c2.Store(c + 2 * ldc); c3.Store(c + 3 * ldc);
        c4.Store(c + 4 * ldc); c5.Store(c + 5 * ldc); c6.Store(c + 6 * ldc); c7.Store(c + 7 * ldc);
    }

    /// <summary>One row of C, 16 columns.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void Tile1(float* a, float* b, nint ldb, nint k, float* c)
    {
        var acc = Vector512<float>.Zero;
        for (nint kk = 0; kk < k; kk++, b += ldb) acc = Vector512.FusedMultiplyAdd(Vector512.Create(a[kk]), Vector512.Load(b), acc);
        acc.Store(c);
    }
}
