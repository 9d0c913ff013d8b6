using static TorchSharp.torch;

namespace Pipeline.Training.Mixtures;

// GaussianMixture, part: the log-densities, the E-step and the M-step as TorchSharp operations, on any device (the CPU
// kernels of the other parts are their fast path, tested equal).
public sealed partial class GaussianMixture
{
    /// <summary>
    /// log wₖ + log N(xₙ | k), (N, K), for the samples centred on their mean (float64, on the device): the quadratic
    /// forms are x²·pᵀ − 2x·(μp)ᵀ + Σμ²p (diagonal) or ‖x·Pₖ − μₖ·Pₖ‖² per component (full), μ centred alike.
    /// </summary>
    Tensor WeightedLogProbabilities(Samples.OnDeviceSamples samples)
    {
        var (x, offset) = (samples.Centred, samples.Offset);
        var centredMeans = means! - offset;
        Tensor quadratic;
        if (Covariance == CovarianceType.Diagonal)
            quadratic = x.square().mm(precision!.t()) - 2 * x.mm((centredMeans * precision).t()) + (centredMeans.square() * precision).sum([1L]);
        else
        {
            // every component at once per block of rows: (K, B, D) products, B small enough to stay in cache
            var shifts = centredMeans.unsqueeze(1).bmm(precision!);                 // (K, 1, D): μₖ·Pₖ
            var blocks = new List<Tensor>();
            for (long start = 0; start < x.shape[0]; start += TorchBlockRows)
            {
                var rows = x.narrow(0, start, Math.Min(TorchBlockRows, x.shape[0] - start));
                blocks.Add((rows.unsqueeze(0).matmul(precision!) - shifts).square().sum([2L]).t());
            }
            quadratic = cat(blocks);
        }
        return quadratic * -0.5 + (logDet! + weights!.log() - 0.5 * Dimensions * Math.Log(2 * Math.PI));
    }

    // rows per block of the full-covariance products: (K, B, D) float64 temporaries of a few MB
    const long TorchBlockRows = 2048;

    /// <summary>The E-step: responsibilities (N, K) and the mean log-likelihood.</summary>
    (Tensor Responsibilities, double MeanLogLikelihood) TorchExpectation(Samples samples)
    {
        var weighted = WeightedLogProbabilities(samples.OnDevice(Device));
        var total = weighted.logsumexp(1, keepdim: true);
        return ((weighted - total).exp(), total.mean().item<double>());
    }

    /// <summary>One EM iteration as TorchSharp operations; returns the mean log-likelihood under the parameters it started from.</summary>
    double TorchIteration(Samples samples, double reg)
    {
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var (r, meanLogLikelihood) = TorchExpectation(samples);
        TorchMaximisation(samples, r, reg);
        return meanLogLikelihood;
    }

    /// <summary>
    /// The M-step from responsibilities r (N, K): Nₖ = Σr (+ a tiny count, as scikit-learn, so an empty component keeps
    /// a finite mean), μ = rᵀx / N, σ² = rᵀx² / N − μ² clamped at 0 (diagonal) or Σₖ = (rₖ(x − μₖ))ᵀ(x − μₖ) / Nₖ (full),
    /// plus regCovar; weights Nₖ / N.
    /// </summary>
    void TorchMaximisation(Samples samples, Tensor r, double reg)
    {
        using var _ = no_grad();
        var on = samples.OnDevice(Device);
        var x = on.Centred;
        var counts = r.sum([0L]) + EmptyComponentCount;
        var centredMeans = r.t().mm(x) / counts.unsqueeze(1);
        Tensor c;
        if (Covariance == CovarianceType.Diagonal)
            c = (r.t().mm(x.square()) / counts.unsqueeze(1) - centredMeans.square()).clamp_min(0) + reg;
        else
        {
            // Σₖ Nₖ = Σₙ rₙₖ (xₙ − μₖ)(xₙ − μₖ)ᵀ, accumulated per block of rows as one batched product
            var scatter = zeros([Components, Dimensions, Dimensions], dtype: ScalarType.Float64, device: Device);
            for (long start = 0; start < x.shape[0]; start += TorchBlockRows)
            {
                var length = Math.Min(TorchBlockRows, x.shape[0] - start);
                var difference = x.narrow(0, start, length).unsqueeze(0) - centredMeans.unsqueeze(1);   // (K, B, D)
                var weighted = difference * r.narrow(0, start, length).t().unsqueeze(2);
                scatter.add_(weighted.transpose(1, 2).bmm(difference));
            }
            c = scatter / counts.reshape(-1, 1, 1) + eye(Dimensions, dtype: ScalarType.Float64, device: Device) * reg;
        }
        SetParameters(counts / samples.N, centredMeans + on.Offset, c);
    }
}
