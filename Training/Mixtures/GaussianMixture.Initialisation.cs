using Pipeline.Training.Synthesis;
using static TorchSharp.torch;

namespace Pipeline.Training.Mixtures;

// GaussianMixture, part: The k-means++ start, as scikit-learn's init_params="k-means++", on the mixture's device.
public sealed partial class GaussianMixture
{
    /// <summary>
    /// k-means++ centres (each next centre drawn with probability proportional to the squared distance to the nearest
    /// one so far, from <paramref name="generator"/>), then hard assignments to the nearest centre and one M-step.
    /// </summary>
    void InitialiseKMeansPlusPlus(Samples samples, SeededRandom generator, double reg)
    {
        int k = Components, n = samples.N;
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var x = samples.OnDevice(Device).Centred;
        var centres = new long[k];
        centres[0] = generator.NextInt(n);
        var nearest = (x - x[centres[0]]).square().sum([1L]);
        for (var c = 1; c < k; c++)
        {
            var cumulative = nearest.cumsum(0);
            var pick = generator.NextDouble() * cumulative[-1].item<double>();
            // the first sample whose running total reaches the pick
            centres[c] = Math.Min((cumulative < pick).sum().item<long>(), n - 1);
            nearest = minimum(nearest, (x - x[centres[c]]).square().sum([1L]));
        }
        var centre = x.index_select(0, tensor(centres, device: Device));
        var distances = x.square().sum([1L], keepdim: true) - 2 * x.mm(centre.t()) + centre.square().sum([1L]);
        var assignments = nn.functional.one_hot(distances.argmin(1), k).to_type(ScalarType.Float64);
        if (UsesCpuKernels) MaximisationStep(samples, Values(assignments), reg);
        else TorchMaximisation(samples, assignments, reg);
    }
}
