using System.Runtime.InteropServices;
using TorchSharp;

namespace Pipeline.Training.Mixtures;

/// <summary>
/// Row-major GEMM over spans, run by LibTorch's BLAS (MKL on x86 CPUs), for the mixtures' CPU kernels where the
/// AVX-512 ones do not apply. Each operand is wrapped as a LibTorch tensor over the
/// caller's memory, without a copy, and C is written in place by <c>addmm_</c>; the product runs on LibTorch's
/// intra-op threads (<c>--threads</c>).
/// </summary>
internal static unsafe partial class Blas
{
    // LibTorchSharp's tensor constructor over foreign memory; the deleter is called when LibTorch lets go of it.
    [LibraryImport("LibTorchSharp", EntryPoint = "THSTensor_new")]
    private static partial IntPtr NewTensor(void* data, IntPtr deleter, long* dimensions, int rank, sbyte type, sbyte dtype,
        int deviceType, int deviceIndex, [MarshalAs(UnmanagedType.U1)] bool requiresGrad);

    /// <summary>The memory belongs to the caller, who keeps it pinned for the call: nothing to free.</summary>
    [UnmanagedCallersOnly]
    static void Borrowed(IntPtr _) { }

    static Blas() => torch.InitializeDeviceType(DeviceType.CPU); // LibTorch loaded before the first wrap

    /// <summary>
    /// C = α·op(A)·op(B) + β·C for row-major matrices, where op(A) is m×k, op(B) is k×n and C is m×n;
    /// <paramref name="lda"/>, <paramref name="ldb"/>, <paramref name="ldc"/> are row strides of the stored matrices.
    /// With β = 0, C's previous values (NaN included) are ignored, as in BLAS.
    /// </summary>
    /// <exception cref="ArgumentException">An operand's stored layout does not fit in its span.</exception>
    public static void Gemm(bool transposeA, bool transposeB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        if (m == 0 || n == 0) return;
        CheckOperands(transposeA, transposeB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        fixed (float* pa = a, pb = b, pc = c)
            Product(pa, a.Length, transposeA, m, k, lda, pb, b.Length, transposeB, n, ldb, pc, c.Length, ldc, alpha, beta, torch.ScalarType.Float32);
    }

    /// <summary>The double-precision GEMM (statistics such as mixture fitting want the extra digits).</summary>
    /// <exception cref="ArgumentException">An operand's stored layout does not fit in its span.</exception>
    public static void Gemm(bool transposeA, bool transposeB, int m, int n, int k, double alpha,
        ReadOnlySpan<double> a, int lda, ReadOnlySpan<double> b, int ldb, double beta, Span<double> c, int ldc)
    {
        if (m == 0 || n == 0) return;
        CheckOperands(transposeA, transposeB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        fixed (double* pa = a, pb = b, pc = c)
            Product(pa, a.Length, transposeA, m, k, lda, pb, b.Length, transposeB, n, ldb, pc, c.Length, ldc, (float)alpha, (float)beta, torch.ScalarType.Float64);
    }

    /// <summary>
    /// The upper triangle of C (n × n) = α·AᵀA + β·C for a row-major A (k × n, row stride <paramref name="lda"/>)
    /// (BLAS's SYRK contract; LibTorch has no SYRK, so the whole product is formed and its lower triangle is left as it was).
    /// </summary>
    /// <exception cref="ArgumentException">An operand's stored layout does not fit in its span.</exception>
    public static void SyrkTransposed(int n, int k, float alpha, ReadOnlySpan<float> a, int lda, float beta, Span<float> c, int ldc)
    {
        if (n == 0) return;
        CheckExtent(a.Length, k, n, lda, nameof(a));
        CheckExtent(c.Length, n, n, ldc, nameof(c));
        var lower = new float[n * n];
        for (var i = 1; i < n; i++) c.Slice(i * ldc, i).CopyTo(lower.AsSpan(i * n, i));
        Gemm(true, false, n, n, k, alpha, a, lda, a, lda, beta, c, ldc);
        for (var i = 1; i < n; i++) lower.AsSpan(i * n, i).CopyTo(c.Slice(i * ldc, i));
    }

    /// <summary>C = A·B for dense row-major A (m×k) and B (k×n).</summary>
    public static void MatMul(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int k, int n) =>
        Gemm(false, false, m, n, k, 1f, a, k, b, n, 0f, c, n);

    static void Product(void* a, int aLength, bool transposeA, int m, int k, int lda, void* b, int bLength, bool transposeB, int n, int ldb,
        void* c, int cLength, int ldc, float alpha, float beta, torch.ScalarType type)
    {
        using var scope = torch.NewDisposeScope();
        var left = Matrix(a, aLength, transposeA ? k : m, transposeA ? m : k, lda, type);
        var right = Matrix(b, bLength, transposeB ? n : k, transposeB ? k : n, ldb, type);
        Matrix(c, cLength, m, n, ldc, type).addmm_(transposeA ? left.t() : left, transposeB ? right.t() : right, beta, alpha);
    }

    /// <summary>A rows × columns view with row stride <paramref name="stride"/> over the caller's memory.</summary>
    static torch.Tensor Matrix(void* data, long length, int rows, int columns, int stride, torch.ScalarType type)
    {
        var handle = NewTensor(data, (IntPtr)(delegate* unmanaged<IntPtr, void>)&Borrowed, &length, 1, (sbyte)type, (sbyte)type,
            (int)DeviceType.CPU, -1, false);
        if (handle == IntPtr.Zero) throw new InvalidOperationException("LibTorch could not wrap an operand of a matrix product");
        return torch.Tensor.UnsafeCreateTensor(handle).as_strided([rows, columns], [Math.Max(stride, 1), 1]);
    }

    /// <summary>Every GEMM operand's stored layout fits in its span.</summary>
    static void CheckOperands(bool transposeA, bool transposeB, int m, int n, int k, int aLength, int lda, int bLength, int ldb, int cLength, int ldc)
    {
        CheckExtent(aLength, transposeA ? k : m, transposeA ? m : k, lda, "a");
        CheckExtent(bLength, transposeB ? n : k, transposeB ? k : n, ldb, "b");
        CheckExtent(cLength, m, n, ldc, "c");
    }

    static void CheckExtent(int length, int rows, int columns, int stride, string name)
    {
        if (rows == 0 || columns == 0) return;
        if (stride < columns || (long)(rows - 1) * stride + columns > length)
            throw new ArgumentException($"GEMM operand {name}: {rows}×{columns} with row stride {stride} does not fit in {length} elements");
    }
}
