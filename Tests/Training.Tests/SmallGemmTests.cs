using Pipeline.Training.Linalg;

namespace Pipeline.Training.Tests;

public class SmallGemmTests
{
    // every transpose combination, full and partial 8-row groups and 16-column panels, β 0 and 1, padded strides
    [Theory]
    [InlineData(false, true, 128, 256, 39, 0f)]
    [InlineData(false, false, 128, 39, 256, 0f)]
    [InlineData(true, false, 256, 39, 128, 0f)]
    [InlineData(true, true, 13, 21, 7, 1f)]
    [InlineData(false, true, 100, 64, 128, 1f)]
    [InlineData(false, false, 9, 17, 3, 1f)]
    public void Multiply_EqualsTheDoublePrecisionProduct(bool transposeA, bool transposeB, int m, int n, int k, float beta)
    {
        var random = new Random(m * 31 + n * 7 + k);
        float[] Fill(int count) => Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        int lda = (transposeA ? m : k) + 3, ldb = (transposeB ? k : n) + 1, ldc = n + 2;
        var a = Fill((transposeA ? k : m) * lda);
        var b = Fill((transposeB ? n : k) * ldb);
        var c = Fill(m * ldc);
        var before = (float[])c.Clone();
        Assert.True(SmallGemm.Handles(m, n, k) || !System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated || m < 8 || n < 8);
        SmallGemm.Multiply(transposeA, transposeB, m, n, k, a, lda, b, ldb, beta, c, ldc);
        for (var i = 0; i < m; i++)
            for (var j = 0; j < ldc; j++)
            {
                if (j >= n) { Assert.Equal(before[i * ldc + j], c[i * ldc + j]); continue; } // padding untouched
                double expected = beta * before[i * ldc + j];
                for (var kk = 0; kk < k; kk++)
                    expected += (double)(transposeA ? a[kk * lda + i] : a[i * lda + kk]) * (transposeB ? b[j * ldb + kk] : b[kk * ldb + j]);
                Assert.True(Math.Abs(c[i * ldc + j] - expected) < 1e-5 * (k + 1), $"C[{i},{j}] = {c[i * ldc + j]}, expected {expected}");
            }
    }
}
