using Pipeline.Shared.Errors;

namespace Pipeline.Training.Mixtures;

// GaussianMixture, part: The small dense algebra of the parameters: Cholesky factors, precision factors, log-sum-exp.
public sealed partial class GaussianMixture
{
    internal static double LogSumExp(ReadOnlySpan<double> values)
    {
        var max = double.NegativeInfinity;
        foreach (var v in values) max = Math.Max(max, v);
        if (double.IsNegativeInfinity(max)) return max;
        double sum = 0;
        foreach (var v in values) sum += Math.Exp(v - max);
        return max + Math.Log(sum);
    }

    /// <summary>The precision factors P (upper triangular, Σ⁻¹ = P·Pᵀ), (K, D, D); full covariance only.</summary>
    internal double[] PrecisionFactors() => Covariance == CovarianceType.Full
        ? (double[])precisionFactor.Clone()
        : throw new InvalidOperationException("precision factors are kept for full covariances only");

    /// <summary>Σ = (P·Pᵀ)⁻¹ for an upper-triangular P with a positive diagonal.</summary>
    internal static double[] CovarianceFromPrecisionFactor(double[] p, int d)
    {
        // P⁻¹ is upper triangular too; Σ = (P⁻¹)ᵀ·P⁻¹
        var lower = new double[d * d];
        for (var i = 0; i < d; i++)
            for (var j = 0; j < d; j++) lower[i * d + j] = p[j * d + i]; // Pᵀ, lower triangular
        var inverseLower = InvertLower(lower, d); // (Pᵀ)⁻¹ = (P⁻¹)ᵀ
        var sigma = new double[d * d];
        for (var i = 0; i < d; i++)
            for (var j = 0; j < d; j++)
            {
                double sum = 0;
                for (var k = 0; k < d; k++) sum += inverseLower[i * d + k] * inverseLower[j * d + k];
                sigma[i * d + j] = sum;
            }
        return sigma;
    }

    static double[] Cholesky(ReadOnlySpan<double> a, int d, int component)
    {
        var l = new double[d * d];
        for (var i = 0; i < d; i++)
            for (var j = 0; j <= i; j++)
            {
                var sum = a[i * d + j];
                for (var k = 0; k < j; k++) sum -= l[i * d + k] * l[j * d + k];
                if (i == j)
                {
                    if (!(sum > 0)) throw new InvalidInputException($"component {component}'s covariance is not positive definite; raise regCovar");
                    l[i * d + i] = Math.Sqrt(sum);
                }
                else l[i * d + j] = sum / l[j * d + j];
            }
        return l;
    }

    static double[] InvertLower(double[] l, int d)
    {
        var inverse = new double[d * d];
        for (var col = 0; col < d; col++)
        {
            inverse[col * d + col] = 1 / l[col * d + col];
            for (var i = col + 1; i < d; i++)
            {
                double sum = 0;
                for (var k = col; k < i; k++) sum -= l[i * d + k] * inverse[k * d + col];
                inverse[i * d + col] = sum / l[i * d + i];
            }
        }
        return inverse;
    }
}
