using Pipeline.Shared.Arrays;
using Pipeline.Training.Decomposition;
using Pipeline.Training.Engine;
using static TorchSharp.torch;

namespace Pipeline.Training.Tests;

/// <summary>
/// Every decomposition model recovers planted factors up to permutation and scale: data are made from templates
/// with distinct sparse supports and sparse activations (the setting where the factorisation is unique), and each
/// fitted template must point the same way as one planted template (cosine similarity, best matching).
/// </summary>
[Collection(LibTorchCollection.Name)]
public class PlantedRecoveryTests
{
    /// <summary>
    /// Non-negative (outer, R, inner) values with about <paramref name="density"/> of them non-zero and at least one per
    /// component and outer index. With <paramref name="disjoint"/>, component r only lives on outer indices o ≡ r (mod R):
    /// templates on disjoint channels (NMFD's planted problem then has no nearby rival optimum).
    /// </summary>
    static Tensor SparseFactor(long[] shape, double density, int seed, bool disjoint = false)
    {
        var random = new Random(seed);
        var values = new float[shape.Aggregate(1L, (p, s) => p * s)];
        int components = (int)shape[1], inner = values.Length / ((int)shape[0] * components);
        for (var i = 0; i < values.Length; i++)
        {
            int o = i / (inner * components), r = i / inner % components;
            if (disjoint && o % components != r) continue;
            if (random.NextDouble() < density || i % inner == r * 7 % inner) values[i] = 0.5f + random.NextSingle();
        }
        return tensor(values, shape);
    }

    /// <summary>Component r's entries of a (outer, R, inner) tensor, flattened.</summary>
    static double[] Component(float[] values, long[] shape, int r)
    {
        int components = (int)shape[1], inner = values.Length / ((int)shape[0] * components);
        var result = new List<double>();
        for (var o = 0; o < shape[0]; o++)
            for (var i = 0; i < inner; i++) result.Add(values[(o * components + r) * inner + i]);
        return [.. result];
    }

    static double Cosine(double[] a, double[] b) =>
        a.Zip(b, (x, y) => x * y).Sum() / Math.Sqrt(a.Sum(x => x * x) * b.Sum(y => y * y) + 1e-300);

    static IEnumerable<int[]> Permutations(int n) => n == 1 ? [[0]]
        : Permutations(n - 1).SelectMany(p => Enumerable.Range(0, n).Select(at => p.Take(at).Append(n - 1).Concat(p.Skip(at)).ToArray()));

    /// <summary>The smallest cosine similarity between planted and fitted components under the best permutation.</summary>
    static double Recovery(float[] planted, float[] fitted, long[] shape)
    {
        var r = (int)shape[1];
        var truth = Enumerable.Range(0, r).Select(i => Component(planted, shape, i)).ToArray();
        var found = Enumerable.Range(0, r).Select(i => Component(fitted, shape, i)).ToArray();
        return Permutations(r).Max(p => Enumerable.Range(0, r).Min(i => Cosine(truth[i], found[p[i]])));
    }

    static void AssertRecovered(Tensor planted, Tensor fitted, string what, double threshold = 0.98)
    {
        var similarity = Recovery(planted.Values(), fitted.Values(), planted.shape);
        Assert.True(similarity > threshold, $"{what}: worst matched component has cosine {similarity:F4}");
    }

    [Fact]
    public void Nmf_RecoversPlantedTemplates()
    {
        var w = SparseFactor([1, 4, 24], 0.3, 1).reshape(4, 24).t(); // (F, K)
        var h = SparseFactor([1, 4, 60], 0.3, 2).reshape(4, 60);                // (K, T)
        var v = TorchArrays.ToNdArray(w.matmul(h));
        var model = new Nmf(4, seed: 3);
        model.Fit(v, new NmfFitOptions { Beta = 1, Tolerance = 0, MaxIterations = 2000, LossEvery = 100 });
        var fitted = TorchArrays.FromNdArray(model.W!).t().reshape(1, 4, 24);
        AssertRecovered(w.t().reshape(1, 4, 24), fitted, "NMF");
    }

    /// <summary>Random starts per fit; the best one (by its objective, never by the planted truth) is checked.</summary>
    const int Restarts = 4;

    public static TheoryData<int> SpatialRanks => [1, 2, 3];

    [Theory]
    [MemberData(nameof(SpatialRanks))]
    public void Deconvolution_RecoversPlantedTemplates(int spatial)
    {
        // NMFD: V (1, 12, 60), W (12, 3, 4); NMF2D: V (1, 1, 24, 30), W (1, 3, 3, 4); NMF3D: V (1, 2, 10, 12, 12), W (2, 3, 2, 3, 3)
        DeconvolutionComponent Make(int seed, Tensor? w = null, Tensor? h = null) => spatial switch
        {
            1 => new Nmfd([1, 20, 150], 3, 4, new Generator((ulong)seed), w, h),
            2 => new Nmf2d([1, 3, 30, 30], 3, (3, 4), new Generator((ulong)seed), w, h),
            _ => new Nmf3d([1, 2, 10, 12, 12], 3, (2, 3, 3), new Generator((ulong)seed), w, h),
        };
        var shapes = Make(0);
        var truth = Make(0, SparseFactor(shapes.W.shape, 0.5, 10 + spatial, disjoint: spatial == 1), SparseFactor(shapes.H.shape, 0.03, 20 + spatial));
        Tensor v;
        using (no_grad()) v = truth.forward().detach();
        // a non-convex fit: the best of a few random starts by divergence, as one fits NMF in practice
        var model = Enumerable.Range(0, Restarts).Select(r => Make(30 + 10 * r + spatial)).MinBy(m =>
        {
            var losses = new List<double>();
            m.Fit(v, beta: 1, tolerance: 0, maxIterations: 1500, progress: new Shared.Threading.SynchronousProgress<(int, double Loss)>(p => losses.Add(p.Loss)));
            return losses[^1];
        })!;
        AssertRecovered(truth.W, model.W, $"{spatial}-d deconvolution");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void PlcaFamily_RecoversPlantedTemplates(int spatial)
    {
        PlcaComponent Make(int seed) => spatial switch
        {
            0 => new Plca([60, 24], 3, new Generator((ulong)seed)),
            1 => new Siplca([1, 20, 150], 3, [4], new Generator((ulong)seed)),
            2 => new Siplca2([1, 3, 30, 30], 3, (3, 4), new Generator((ulong)seed)),
            _ => new Siplca3([1, 2, 10, 12, 12], 3, (2, 3, 3), new Generator((ulong)seed)),
        };
        var shapes = Make(0);
        // PLCA's factors (C, R) and (N, R) have their components last: drawn as (1, R, ·) and transposed, so each
        // component is sparse along C or N (drawn in their own shape, every entry would be the one forced non-zero)
        var w = spatial == 0 ? SparseFactor([1, 3, 24], 0.5, 50).reshape(3, 24).t() : SparseFactor(shapes.W.shape, 0.5, 50 + spatial, disjoint: spatial == 1);
        var h = spatial == 0 ? SparseFactor([1, 3, 60], 0.3, 60).reshape(3, 60).t() : SparseFactor(shapes.H.shape, 0.03, 60 + spatial);
        Tensor v;
        using (no_grad()) v = shapes.Reconstruct(h, w, ones(3)).detach();
        var model = Enumerable.Range(0, Restarts).Select(r => Make(40 + 10 * r + spatial))
            .MaxBy(m => m.Fit(v, tolerance: 0, maxIterations: 1500).LogLikelihood[^1])!;
        if (spatial == 0) AssertRecovered(w.t().reshape(1, 3, 24), model.W.t().reshape(1, 3, 24), "PLCA");
        else AssertRecovered(w, model.W, $"SIPLCA{spatial}");
    }
}
