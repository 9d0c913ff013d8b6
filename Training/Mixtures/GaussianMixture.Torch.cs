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
            var perComponent = new Tensor[Components];
            for (var c = 0; c < Components; c++)
            {
                var p = precision![c];
                perComponent[c] = (x.mm(p) - centredMeans[c].unsqueeze(0).mm(p)).square().sum([1L]);
            }
            quadratic = stack(perComponent, 1);
        }
        return quadratic * -0.5 + (logDet! + weights!.log() - 0.5 * Dimensions * Math.Log(2 * Math.PI));
    }

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
            var perComponent = new Tensor[Components];
            var ridge = eye(Dimensions, dtype: ScalarType.Float64, device: Device) * reg;
            for (var k = 0; k < Components; k++)
            {
                var difference = x - centredMeans[k];
                perComponent[k] = (difference * r[.., k..(k + 1)]).t().mm(difference) / counts[k] + ridge;
            }
            c = stack(perComponent);
        }
        SetParameters(counts / samples.N, centredMeans + on.Offset, c);
    }
}
