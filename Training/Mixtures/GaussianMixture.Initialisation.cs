using Pipeline.Training.Synthesis;

namespace Pipeline.Training.Mixtures;

// GaussianMixture, part: The k-means++ start, as scikit-learn's init_params="k-means++".
public sealed partial class GaussianMixture
{
    /// <summary>k-means++ centres, then hard assignments to the nearest centre and one M-step (scikit-learn's init_params="k-means++").</summary>
    void InitialiseKMeansPlusPlus(Samples samples, SeededRandom generator, double reg)
    {
        int k = Components, d = Dimensions, n = samples.N;
        var x = samples.X;
        var centres = new int[k];
        var nearest = new double[n];
        centres[0] = generator.NextInt(n);
        for (var s = 0; s < n; s++) nearest[s] = Distance(x, s, centres[0], d);
        for (var c = 1; c < k; c++)
        {
            var total = nearest.Sum();
            var pick = generator.NextDouble() * total;
            var chosen = n - 1;
            for (var s = 0; s < n; s++) { pick -= nearest[s]; if (pick <= 0) { chosen = s; break; } }
            centres[c] = chosen;
            for (var s = 0; s < n; s++) nearest[s] = Math.Min(nearest[s], Distance(x, s, chosen, d));
        }
        var r = new double[n * k];
        for (var s = 0; s < n; s++)
        {
            var best = 0;
            var bestDistance = double.PositiveInfinity;
            for (var c = 0; c < k; c++)
            {
                var distance = Distance(x, s, centres[c], d);
                if (distance < bestDistance) (best, bestDistance) = (c, distance);
            }
            r[s * k + best] = 1;
        }
        MaximisationStep(samples, r, reg);
    }

    static double Distance(double[] x, int a, int b, int d)
    {
        double sum = 0;
        for (var j = 0; j < d; j++) { var v = x[a * d + j] - x[b * d + j]; sum += v * v; }
        return sum;
    }
}
