using Pipeline.Training.Mixtures;

namespace Pipeline.Training.Tests;

[Collection(LibTorchCollection.Name)]
public class BlasTests
{
    /// <summary>C = α·op(A)·op(B) + β·C summed in double, entry by entry, from the stored layouts.</summary>
    static double[] Reference(bool ta, bool tb, int m, int n, int k, double alpha, float[] a, int lda, float[] b, int ldb, double beta, float[] c, int ldc)
    {
        var result = c.Select(x => (double)x).ToArray();
        for (var i = 0; i < m; i++)
            for (var j = 0; j < n; j++)
            {
                double sum = 0;
                for (var p = 0; p < k; p++) sum += (double)(ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]);
                result[i * ldc + j] = alpha * sum + (beta == 0 ? 0 : beta * c[i * ldc + j]);
            }
        return result;
    }

    [Theory]
    [InlineData(false, false, 0f)]
    [InlineData(true, false, 1f)]
    [InlineData(false, true, 0.5f)]
    [InlineData(true, true, 0f)]
    public void Gemm_WithStridesAndTransposes_MatchesTheDefinition_InPlace(bool ta, bool tb, float beta)
    {
        const int m = 5, n = 7, k = 3, lda = 9, ldb = 11, ldc = 8; // row strides wider than the rows
        var random = new Random(1);
        float[] Fill(int count) => Enumerable.Range(0, count).Select(_ => random.NextSingle() - 0.5f).ToArray();
        var a = Fill((ta ? k : m) * lda);
        var b = Fill((tb ? n : k) * ldb);
        var c = Fill(m * ldc);
        if (beta == 0) c[2] = float.NaN; // ignored with β = 0, as BLAS ignores it
        var expected = Reference(ta, tb, m, n, k, 2.0, a, lda, b, ldb, beta, c, ldc);
        Blas.Gemm(ta, tb, m, n, k, 2f, a, lda, b, ldb, beta, c, ldc);
        for (var i = 0; i < m; i++)
            for (var j = 0; j < ldc; j++)
                Assert.Equal(expected[i * ldc + j], c[i * ldc + j], 1e-5); // the padding between rows untouched
        Assert.Throws<ArgumentException>(() => Blas.Gemm(ta, tb, m, n, k, 1f, a.AsSpan(0, 4), lda, b, ldb, 0f, c, ldc));
    }

    [Fact]
    public void DoubleGemm_AndSyrk_MatchTheirDefinitions()
    {
        var c = new double[4];
        Blas.Gemm(false, false, 2, 2, 2, 1.0, [1.0, 2, 3, 4], 2, [5.0, 6, 7, 8], 2, 0.0, c, 2);
        Assert.Equal(new double[] { 19, 22, 43, 50 }, c);
        // upper triangle of AᵀA for A (3 × 2); the strictly lower triangle keeps its value
        var s = new float[] { 1, 99, 7, 1 };
        Blas.SyrkTransposed(2, 3, 1f, [1f, 2, 3, 4, 5, 6], 2, 1f, s, 2);
        Assert.Equal(new float[] { 1 + 35, 99 + 44, 7, 1 + 56 }, s);
    }
}
