using Pipeline.Training.Mixtures;

namespace Pipeline.Training.Tests;

public class SkinnyProductsTests
{
    static float[] Random(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
    }

    // shapes that take the register-tile paths (8-row tiles and their tail, 4 × 2 and 4 × 1 column tiles, padded
    // components) and the BLAS fallbacks (too few rows, too many components, columns not a multiple of 16)
    [Theory]
    [InlineData(1000, 128, 16)]
    [InlineData(4099, 48, 16)]
    [InlineData(203, 64, 3)]
    [InlineData(500, 80, 7)]
    [InlineData(40, 128, 16)]
    [InlineData(300, 32, 20)]
    [InlineData(300, 10, 5)]
    public void Products_EqualTheDoublePrecisionSums(int n, int m, int k)
    {
        var a = Random(n * m, 1);
        var b = Random(k * m, 2);
        var r = Random(n * k, 3);
        var c = new float[n * k];
        SkinnyProducts.TimesTransposed(a, b, c, n, m, k);
        for (var s = 0; s < n; s++)
            for (var q = 0; q < k; q++)
            {
                double expected = 0;
                for (var j = 0; j < m; j++) expected += (double)a[s * m + j] * b[q * m + j];
                Assert.True(Math.Abs(c[s * k + q] - expected) < 1e-5 * m, $"C[{s},{q}] = {c[s * k + q]}, expected {expected}");
            }
        var sums = new float[k * m];
        SkinnyProducts.TransposeTimes(r, a, sums, n, k, m);
        for (var q = 0; q < k; q++)
            for (var j = 0; j < m; j++)
            {
                double expected = 0;
                for (var s = 0; s < n; s++) expected += (double)r[s * k + q] * a[s * m + j];
                Assert.True(Math.Abs(sums[q * m + j] - expected) < 1e-5 * n, $"S[{q},{j}] = {sums[q * m + j]}, expected {expected}");
            }
    }
}
