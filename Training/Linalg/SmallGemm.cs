using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Pipeline.Shared.Threading;

namespace Pipeline.Training.Linalg;

/// <summary>
/// Single-precision GEMM for the small matrices of a mini-batch step (every side at most <see cref="MaxSide"/>,
/// such as a VAE's 128 × 39 · 39 × 256). OpenBLAS spends much of such a call packing and waking its threads;
/// here op(B) is packed once into 16-column panels, each 8-row × 16-column tile of C is one set of AVX-512
/// registers over the whole inner dimension, and tiles run in parallel when there are enough of them.
/// Blas.Gemm sends these shapes here on AVX-512 machines.
/// </summary>
public static unsafe class SmallGemm
{
    /// <summary>The largest m, n or k handled here.</summary>
    public const int MaxSide = 256;
    const int Lanes = 16, Rows = 8;

    /// <summary>Whether <see cref="Multiply"/> takes a product of these sizes on this machine.</summary>
    public static bool Handles(int m, int n, int k) =>
        Vector512.IsHardwareAccelerated && m <= MaxSide && n <= MaxSide && k <= MaxSide && m >= Rows && n >= 8 && k >= 1;

    /// <summary>C = op(A)·op(B) + β·C (β 0 or 1) for row-major matrices with the given row strides.</summary>
    public static void Multiply(bool transposeA, bool transposeB, int m, int n, int k, ReadOnlySpan<float> a, int lda,
        ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        var panels = (n + Lanes - 1) / Lanes;
        // op(B) in 16-column panels, row kk of panel p at (p·k + kk)·16, zero beyond n; a B that is not transposed
        // is read in place instead, except for a last, partial panel
        var packedB = ArrayPool<float>.Shared.Rent(panels * k * Lanes);
        var packedA = transposeA ? ArrayPool<float>.Shared.Rent(m * k) : null;
        try
        {
            fixed (float* pa = a, pb = b, pc = c, pPackedB = packedB, pPackedA = packedA)
            {
                var full = n / Lanes;
                if (transposeB)
                {
                    new Span<float>(pPackedB, panels * k * Lanes).Clear();
                    for (var j = 0; j < n; j++)
                    {
                        var source = pb + (long)j * ldb;
                        var target = pPackedB + (j / Lanes) * k * Lanes + j % Lanes;
                        for (var kk = 0; kk < k; kk++) target[kk * Lanes] = source[kk];
                    }
                }
                else if (full < panels)
                {
                    var target = pPackedB + full * k * Lanes;
                    new Span<float>(target, k * Lanes).Clear();
                    for (var kk = 0; kk < k; kk++) new ReadOnlySpan<float>(pb + (long)kk * ldb + full * Lanes, n - full * Lanes).CopyTo(new Span<float>(target + kk * Lanes, Lanes));
                }
                // op(A) row-major and contiguous, so a tile's broadcasts walk rows
                if (transposeA)
                    for (var kk = 0; kk < k; kk++)
                    {
                        var source = pa + (long)kk * lda;
                        for (var i = 0; i < m; i++) pPackedA[i * k + kk] = source[i];
                    }
                var (aAddress, rowStride) = transposeA ? ((nint)pPackedA, k) : ((nint)pa, lda);
                var (bAddress, packedAddress, cAddress) = ((nint)pb, (nint)pPackedB, (nint)pc);
                var direct = !transposeB;
                void Tile(int task)
                {
                    int group = task / panels, panel = task % panels, row = group * Rows, column = panel * Lanes;
                    var width = Math.Min(Lanes, n - column);
                    var inPlace = direct && width == Lanes;
                    var panelB = inPlace ? (float*)bAddress + column : (float*)packedAddress + panel * k * Lanes;
                    var bStride = inPlace ? ldb : Lanes;
                    if (row + Rows <= m && width == Lanes)
                        Tile8((float*)aAddress + (long)row * rowStride, rowStride, panelB, bStride, k, (float*)cAddress + (long)row * ldc + column, ldc, beta);
                    else
                        for (var r = row; r < Math.Min(m, row + Rows); r++)
                            Tile1((float*)aAddress + (long)r * rowStride, panelB, bStride, k, (float*)cAddress + (long)r * ldc + column, width, beta);
                }
                var tasks = (m + Rows - 1) / Rows * panels;
                if ((long)m * n * k < 1 << 18) for (var t = 0; t < tasks; t++) Tile(t);
                else Parallel.For(0, tasks, ComputeThreads.Options, Tile);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(packedB);
            if (packedA is not null) ArrayPool<float>.Shared.Return(packedA);
        }
    }

    /// <summary>One 8-row × 16-column tile of C over the whole inner dimension (also SkinnyProducts' E-step kernel).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Tile8(float* a, int lda, float* b, int ldb, int k, float* c, int ldc, float beta)
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
    internal static void Tile1(float* a, float* b, int ldb, int k, float* c, int width, float beta)
    {
        var acc = Vector512<float>.Zero;
        for (var kk = 0; kk < k; kk++) acc = Vector512.FusedMultiplyAdd(Vector512.Create(a[kk]), Vector512.Load(b + (long)kk * ldb), acc);
        for (var j = 0; j < width; j++) c[j] = beta == 0 ? acc[j] : c[j] + acc[j];
    }
}
