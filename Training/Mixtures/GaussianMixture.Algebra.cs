namespace Pipeline.Training.Mixtures;

// GaussianMixture, part: The small algebra the CPU kernels share: log-sum-exp, the precision factors as arrays.
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
}
