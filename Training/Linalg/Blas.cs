using System.Runtime.InteropServices;

namespace Pipeline.Training.Linalg;

/// <summary>
/// The door to the system BLAS (OpenBLAS through <c>libblas.so.3</c>, its kernels chosen by
/// <see cref="Pipeline.Training.Native.OpenBlasCore"/>). Row-major GEMM, through which every general matrix
/// product goes, and SYRK for the symmetric ones.
/// </summary>
public static unsafe partial class Blas
{
    const int RowMajor = 101, NoTrans = 111, Trans = 112, Upper = 121;

    [LibraryImport("blas", EntryPoint = "openblas_set_num_threads")]
    private static partial void OpenBlasSetNumThreads(int threads);

    /// <summary>
    /// Limits BLAS to <paramref name="threads"/> threads (0: one per core) where the library is OpenBLAS, which
    /// ./run installs; another BLAS keeps its own setting (OMP_NUM_THREADS and the like). Returns whether it applied.
    /// </summary>
    public static bool SetThreads(int threads)
    {
        try
        {
            OpenBlasSetNumThreads(threads > 0 ? threads : Environment.ProcessorCount);
            return true;
        }
        catch (EntryPointNotFoundException) { return false; }
    }

    [LibraryImport("blas", EntryPoint = "openblas_get_corename")]
    private static partial IntPtr OpenBlasCoreName();

    /// <summary>The kernel set OpenBLAS runs ("SkylakeX", "Haswell", ...), or null for another BLAS.</summary>
    public static string? Core
    {
        get
        {
            try { return Marshal.PtrToStringUTF8(OpenBlasCoreName()); }
            catch (EntryPointNotFoundException) { return null; }
        }
    }

    [LibraryImport("blas", EntryPoint = "cblas_sgemm")]
    private static partial void Sgemm(int order, int transA, int transB, int m, int n, int k,
        float alpha, float* a, int lda, float* b, int ldb, float beta, float* c, int ldc);

    /// <summary>
    /// C = α·op(A)·op(B) + β·C for row-major matrices, where op(A) is m×k, op(B) is k×n and C is m×n;
    /// <paramref name="lda"/>, <paramref name="ldb"/>, <paramref name="ldc"/> are row strides of the stored matrices.
    /// </summary>
    public static void Gemm(bool transposeA, bool transposeB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        if (m == 0 || n == 0) return;
        // The last element each operand's stored layout touches must lie inside its span.
        CheckExtent(a.Length, transposeA ? k : m, transposeA ? m : k, lda, nameof(a));
        CheckExtent(b.Length, transposeB ? n : k, transposeB ? k : n, ldb, nameof(b));
        CheckExtent(c.Length, m, n, ldc, nameof(c));
        fixed (float* pa = a)
        fixed (float* pb = b)
        fixed (float* pc = c)
        {
            Sgemm(RowMajor, transposeA ? Trans : NoTrans, transposeB ? Trans : NoTrans, m, n, k,
                alpha, pa, Math.Max(lda, 1), pb, Math.Max(ldb, 1), beta, pc, Math.Max(ldc, 1));
        }
    }

    [LibraryImport("blas", EntryPoint = "cblas_ssyrk")]
    private static partial void Ssyrk(int order, int uplo, int trans, int n, int k, float alpha, float* a, int lda, float beta, float* c, int ldc);

    /// <summary>
    /// The upper triangle of C (n × n) = α·AᵀA + β·C for a row-major A (k × n, row stride <paramref name="lda"/>):
    /// half a GEMM's work for a symmetric product; the strictly lower triangle of C is left as it was.
    /// </summary>
    public static void SyrkTransposed(int n, int k, float alpha, ReadOnlySpan<float> a, int lda, float beta, Span<float> c, int ldc)
    {
        if (n == 0) return;
        CheckExtent(a.Length, k, n, lda, nameof(a));
        CheckExtent(c.Length, n, n, ldc, nameof(c));
        fixed (float* pa = a)
        fixed (float* pc = c)
        {
            Ssyrk(RowMajor, Upper, Trans, n, k, alpha, pa, Math.Max(lda, 1), beta, pc, Math.Max(ldc, 1));
        }
    }

    [LibraryImport("blas", EntryPoint = "cblas_dgemm")]
    private static partial void Dgemm(int order, int transA, int transB, int m, int n, int k,
        double alpha, double* a, int lda, double* b, int ldb, double beta, double* c, int ldc);

    /// <summary>The double-precision GEMM (statistics such as mixture fitting want the extra digits).</summary>
    public static void Gemm(bool transposeA, bool transposeB, int m, int n, int k, double alpha,
        ReadOnlySpan<double> a, int lda, ReadOnlySpan<double> b, int ldb, double beta, Span<double> c, int ldc)
    {
        if (m == 0 || n == 0) return;
        CheckExtent(a.Length, transposeA ? k : m, transposeA ? m : k, lda, nameof(a));
        CheckExtent(b.Length, transposeB ? n : k, transposeB ? k : n, ldb, nameof(b));
        CheckExtent(c.Length, m, n, ldc, nameof(c));
        fixed (double* pa = a)
        fixed (double* pb = b)
        fixed (double* pc = c)
        {
            Dgemm(RowMajor, transposeA ? Trans : NoTrans, transposeB ? Trans : NoTrans, m, n, k,
                alpha, pa, Math.Max(lda, 1), pb, Math.Max(ldb, 1), beta, pc, Math.Max(ldc, 1));
        }
    }

    /// <summary>C = A·B for dense row-major A (m×k) and B (k×n).</summary>
    public static void MatMul(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int k, int n) =>
        Gemm(false, false, m, n, k, 1f, a, k, b, n, 0f, c, n);

    static void CheckExtent(int length, int rows, int columns, int stride, string name)
    {
        if (rows == 0 || columns == 0) return;
        if (stride < columns || (long)(rows - 1) * stride + columns > length)
            throw new ArgumentException($"GEMM operand {name}: {rows}×{columns} with row stride {stride} does not fit in {length} elements");
    }
}
