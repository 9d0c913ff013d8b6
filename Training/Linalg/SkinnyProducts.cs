using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using Pipeline.Shared.Threading;

namespace Pipeline.Training.Linalg;

/// <summary>
/// Matrix products where one side has at most 16 columns and the other many rows: a mixture's E-step (N × D times
/// D × K) and M-step (K × N times N × D). OpenBLAS runs these shapes at a third of its square-matrix rate, so on
/// AVX-512 machines they run here instead: 16 components are exactly one 512-bit register, rows go through in
/// register tiles, and fixed row chunks in parallel. Elsewhere, or for wider shapes, the calls go to BLAS.
/// </summary>
public static class SkinnyProducts
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
        // Bᵀ padded to 16 columns: row j holds B[0..k, j], one register per j
        var bt = new float[m * Lanes];
        for (var row = 0; row < k; row++)
            for (var j = 0; j < m; j++) bt[j * Lanes + row] = b[row * m + j];
        var cArray = k == Lanes ? c : new float[n * Lanes];
        Parallel.For(0, (n + ChunkRows - 1) / ChunkRows, ComputeThreads.Options, chunk =>
        {
            int first = chunk * ChunkRows, last = Math.Min(n, first + ChunkRows), s = first;
            fixed (float* pa = a, pb = bt, pc = cArray)
            {
                for (; s + 8 <= last; s += 8) Tile8(pa + (long)s * m, m, pb, Lanes, m, pc + (long)s * Lanes, Lanes, 0f);
                for (; s < last; s++) Tile1(pa + (long)s * m, pb, Lanes, m, pc + (long)s * Lanes, Lanes, 0f);
            }
        });
        if (k != Lanes)
            for (var s = 0; s < n; s++) cArray.AsSpan(s * Lanes, k).CopyTo(c.AsSpan(s * k, k));
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
            var sums = partial.AsSpan(chunk * kp * m, kp * m);
            // blocks of 256 rows stay in L2 while every (4 components × 32 columns) tile passes over them
            for (var start = first; start < last; start += 256)
            {
                var end = Math.Min(last, start + 256);
                for (var c = 0; c < kp; c += 4)
                {
                    var v = 0;
                    for (; v + 2 * Lanes <= m; v += 2 * Lanes) Tile4x2(rp, a, sums, start, end, kp, m, c, v);
                    if (v < m) Tile4x1(rp, a, sums, start, end, kp, m, c, v);
                }
            }
        });
        s[..(k * m)].Clear();
        for (var chunk = 0; chunk < chunks; chunk++)
            for (var c = 0; c < k; c++)
                System.Numerics.Tensors.TensorPrimitives.Add(s.Slice(c * m, m), partial.AsSpan(chunk * kp * m + c * m, m), s.Slice(c * m, m));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile4x2(float[] r, float[] a, Span<float> sums, int start, int end, int kp, int m, int c, int v)
    {
        ref var s0 = ref MemoryMarshal.GetReference(sums);
        ref var r0 = ref MemoryMarshal.GetArrayDataReference(r);
        ref var a0 = ref MemoryMarshal.GetArrayDataReference(a);
        var (o0, o1, o2, o3) = ((nuint)(c * m + v), (nuint)((c + 1) * m + v), (nuint)((c + 2) * m + v), (nuint)((c + 3) * m + v));
        Vector512<float> x00 = Vector512.LoadUnsafe(ref s0, o0), x01 = Vector512.LoadUnsafe(ref s0, o0 + Lanes);
        Vector512<float> x10 = Vector512.LoadUnsafe(ref s0, o1), x11 = Vector512.LoadUnsafe(ref s0, o1 + Lanes);
        Vector512<float> x20 = Vector512.LoadUnsafe(ref s0, o2), x21 = Vector512.LoadUnsafe(ref s0, o2 + Lanes);
        Vector512<float> x30 = Vector512.LoadUnsafe(ref s0, o3), x31 = Vector512.LoadUnsafe(ref s0, o3 + Lanes);
        for (var row = start; row < end; row++)
        {
            var at = (nuint)(row * m + v);
            var y0 = Vector512.LoadUnsafe(ref a0, at);
            var y1 = Vector512.LoadUnsafe(ref a0, at + Lanes);
            var weights = row * kp + c;
            var w0 = Vector512.Create(Unsafe.Add(ref r0, weights));
            var w1 = Vector512.Create(Unsafe.Add(ref r0, weights + 1));
            var w2 = Vector512.Create(Unsafe.Add(ref r0, weights + 2));
            var w3 = Vector512.Create(Unsafe.Add(ref r0, weights + 3));
            x00 = Vector512.FusedMultiplyAdd(w0, y0, x00); x01 = Vector512.FusedMultiplyAdd(w0, y1, x01);
            x10 = Vector512.FusedMultiplyAdd(w1, y0, x10); x11 = Vector512.FusedMultiplyAdd(w1, y1, x11);
            x20 = Vector512.FusedMultiplyAdd(w2, y0, x20); x21 = Vector512.FusedMultiplyAdd(w2, y1, x21);
            x30 = Vector512.FusedMultiplyAdd(w3, y0, x30); x31 = Vector512.FusedMultiplyAdd(w3, y1, x31);
        }
        x00.StoreUnsafe(ref s0, o0); x01.StoreUnsafe(ref s0, o0 + Lanes);
        x10.StoreUnsafe(ref s0, o1); x11.StoreUnsafe(ref s0, o1 + Lanes);
        x20.StoreUnsafe(ref s0, o2); x21.StoreUnsafe(ref s0, o2 + Lanes);
        x30.StoreUnsafe(ref s0, o3); x31.StoreUnsafe(ref s0, o3 + Lanes);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tile4x1(float[] r, float[] a, Span<float> sums, int start, int end, int kp, int m, int c, int v)
    {
        for (var q = 0; q < 4; q++)
        {
            var acc = Vector512.Create(sums.Slice((c + q) * m + v, Lanes));
            for (var row = start; row < end; row++)
                acc = Vector512.FusedMultiplyAdd(Vector512.Create(r[row * kp + c + q]), Vector512.Create(a, row * m + v), acc);
            acc.CopyTo(sums.Slice((c + q) * m + v, Lanes));
        }
    }

    /// <summary>One 8-row × 16-column tile of C over the whole inner dimension: the 8 × 16 results stay in registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void Tile8(float* a, int lda, float* b, int ldb, int k, float* c, int ldc, float beta)
    {
        Vector512<float> c0, c1, c2, c3, c4, c5, c6, c7;
        if (beta == 0) c0 = c1 = c2 = c3 = c4 = c5 = c6 = c7 = Vector512<float>.Zero;
        else
        {
            c0 = Vector512.Load(c); c1 = Vector512.Load(c + ldc); c2 = Vector512.Load(c + 2 * ldc); c3 = Vector512.Load(c + 3 * ldc);
            c4 = Vector512.Load(c + 4 * ldc); c5 = Vector512.Load(c + 5 * ldc); c6 = Vector512.Load(c + 6 * ldc); c7 = Vector512.Load(c + 7 * ldc);
        }
        for (var kk = 0; kk < k; kk++)
        {
            var bk = Vector512.Load(b + (long)kk * ldb);
            c0 = Vector512.FusedMultiplyAdd(Vector512.Create(a[kk]), bk, c0);
            c1 = Vector512.FusedMultiplyAdd(Vector512.Create(a[lda + kk]), bk, c1);
            c2 = Vector512.FusedMultiplyAdd(Vector512.Create(a[2 * lda + kk]), bk, c2);
            c3 = Vector512.FusedMultiplyAdd(Vector512.Create(a[3 * lda + kk]), bk, c3);
            c4 = Vector512.FusedMultiplyAdd(Vector512.Create(a[4 * lda + kk]), bk, c4);
            c5 = Vector512.FusedMultiplyAdd(Vector512.Create(a[5 * lda + kk]), bk, c5);
            c6 = Vector512.FusedMultiplyAdd(Vector512.Create(a[6 * lda + kk]), bk, c6);
            c7 = Vector512.FusedMultiplyAdd(Vector512.Create(a[7 * lda + kk]), bk, c7);
        }
        c0.Store(c); c1.Store(c + ldc); c2.Store(c + 2 * ldc); c3.Store(c + 3 * ldc);
        c4.Store(c + 4 * ldc); c5.Store(c + 5 * ldc); c6.Store(c + 6 * ldc); c7.Store(c + 7 * ldc);
    }

    /// <summary>One row of a tile, possibly a partial panel (the last columns of C).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static unsafe void Tile1(float* a, float* b, int ldb, int k, float* c, int width, float beta)
    {
        var acc = Vector512<float>.Zero;
        for (var kk = 0; kk < k; kk++) acc = Vector512.FusedMultiplyAdd(Vector512.Create(a[kk]), Vector512.Load(b + (long)kk * ldb), acc);
        for (var j = 0; j < width; j++) c[j] = beta == 0 ? acc[j] : c[j] + acc[j];
    }
}
