using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;
using Pipeline.Tests;
using Pipeline.Training.Decomposition;
using Pipeline.Training.Engine;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Pipeline.Training.Tests;

/// <summary>Plain NMF against scikit-learn, with normalised factors, and on sparse data.</summary>
[Collection(LibTorchCollection.Name)]
public class NmfReferenceTests
{
    static readonly IReadOnlyDictionary<string, Tensor> SklearnFixture =
        Safetensors.LoadStateDict(Path.Combine(AppContext.BaseDirectory, "Fixtures", "sklearn_nmf.safetensors"));

    [Theory]
    [InlineData(2.0)]
    [InlineData(1.0)]
    [InlineData(0.5)]
    [InlineData(0.0)]
    public void Nmf_LossTrajectory_MatchesScikitLearnsMultiplicativeUpdates(double beta)
    {
        var f = SklearnFixture;
        var tag = beta.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture).Replace('.', '_');
        var expected = f[$"loss_{tag}"].Values();
        var model = new Nmf(TorchArrays.ToNdArray(f["w0"]), TorchArrays.ToNdArray(f["h0"]));
        var losses = new List<double>();
        model.Fit(TorchArrays.ToNdArray(f["v"]), new NmfFitOptions { Beta = beta, Tolerance = 0, MaxIterations = expected.Length, LossEvery = 1 },
            new Shared.Threading.SynchronousProgress<NmfProgress>(p => { if (p.Iteration > 0) losses.Add(p.Loss); }));
        Assert.Equal(expected.Length, losses.Count);
        // float32 factors against scikit-learn's float64: each step rounds at ~1e-7 relative, and MU contracts
        for (var i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(losses[i] - expected[i]) <= 1e-4 * expected[i], $"β = {beta}, iteration {i + 1}: {losses[i]} vs scikit-learn {expected[i]}");
        Assert.True(TestData.MaxRelativeError(model.W!.Data, f[$"w_{tag}"].Values()) < 1e-3);
        Assert.True(TestData.MaxRelativeError(model.H!.Data, f[$"h_{tag}"].Values()) < 1e-3);
    }

    [Theory]
    [InlineData(FactorNormalization.W)]
    [InlineData(FactorNormalization.H)]
    public void Nmf_Normalization_GivesUnitComponents_WithoutChangingTheLosses(FactorNormalization which)
    {
        // Without penalties the MU step is equivariant under W_r·s, H_r/s, so rescaling changes no loss.
        var v = TestData.Uniform(15, 25, seed: 21);
        var options = new NmfFitOptions { Beta = 1, Tolerance = 0, MaxIterations = 40, LossEvery = 1 };
        var plain = new Nmf(4, seed: 5).Fit(v, options);
        var model = new Nmf(4, seed: 5);
        var normalised = model.Fit(v, options with { Normalize = which });
        for (var i = 0; i < plain.LossHistory.Count; i++)
            Assert.Equal(plain.LossHistory[i].Loss, normalised.LossHistory[i].Loss, plain.LossHistory[i].Loss * 1e-5);
        for (var c = 0; c < 4; c++)
        {
            double squares = 0;
            if (which == FactorNormalization.W) for (var i = 0; i < 15; i++) squares += Math.Pow(model.W![i, c], 2);
            else for (var j = 0; j < 25; j++) squares += Math.Pow(model.H![c, j], 2);
            Assert.Equal(1.0, Math.Sqrt(squares), 5);
        }
    }

    [Fact]
    public void Component_Normalization_KeepsTheReconstruction_AndUnitTemplates()
    {
        var model = new Nmfd([2, 6, 20], rank: 3, window: 4, generator: new Generator(3));
        var before = model.forward().Values();
        model.NormalizeComponents(FactorNormalization.W);
        Assert.True(TestData.MaxRelativeError(model.forward().Values(), before) < 1e-5);
        var w = model.W.Values(); // (C, R, T)
        for (var r = 0; r < 3; r++)
        {
            double squares = 0;
            for (var c = 0; c < 6; c++) for (var t = 0; t < 4; t++) squares += Math.Pow(w[(c * 3 + r) * 4 + t], 2);
            Assert.Equal(1.0, Math.Sqrt(squares), 5);
        }
        var v = TorchArrays.FromNdArray(TestData.Uniform(6, 20, seed: 4)).reshape(1, 6, 20);
        var fitted = new Nmfd([1, 6, 20], rank: 2, window: 3, generator: new Generator(1));
        fitted.Fit(v, beta: 1, tolerance: 0, maxIterations: 5, normalize: FactorNormalization.H);
        var h = fitted.H.Values(); // (1, 2, 18)
        for (var r = 0; r < 2; r++) Assert.Equal(1.0, Math.Sqrt(h.Skip(r * 18).Take(18).Sum(x => (double)x * x)), 5);
    }

    /// <summary>A mostly-zero non-negative matrix with a planted low-rank part on its stored entries.</summary>
    static NdArray SparseData(int rows, int columns, double density, int seed)
    {
        var random = new Random(seed);
        var (v, _, _) = TestData.Planted(rows, columns, rank: 3, seed: seed);
        for (var i = 0; i < v.Data.Length; i++) if (random.NextDouble() > density) v.Data[i] = 0;
        return v;
    }

    [Theory]
    [InlineData(2.0)]
    [InlineData(1.0)]
    public void Nmf_SparseV_FollowsTheDenseFit(double beta)
    {
        var dense = SparseData(30, 40, density: 0.2, seed: 31);
        var sparse = SparseMatrix.FromDense(dense);
        Assert.True(sparse.NonZeros < 0.3 * dense.Data.Length);
        var options = new NmfFitOptions { Beta = beta, Tolerance = 0, MaxIterations = 60, LossEvery = 1, Alpha = 0.01, L1Ratio = 0.5 };
        var denseModel = new Nmf(3, seed: 2);
        var denseFit = denseModel.Fit(dense, options);
        var sparseModel = new Nmf(3, seed: 2);
        var sparseFit = sparseModel.Fit(sparse, options);
        for (var i = 0; i < denseFit.LossHistory.Count; i++)
        {
            var (a, b) = (sparseFit.LossHistory[i].Loss, denseFit.LossHistory[i].Loss);
            Assert.True(Math.Abs(a - b) <= 1e-4 * b, $"iteration {i}: sparse {a}, dense {b}");
        }
        Assert.True(sparseFit.FinalLoss < sparseFit.InitialLoss);
        Assert.True(TestData.MaxRelativeError(sparseModel.W!.Data, denseModel.W!.Data) < 1e-3);
    }

    [Fact]
    public void Nmf_SparseV_FitsAMatrixWhoseDenseFormWouldNotFitInMemory()
    {
        // 200 000 × 200 000 float32 is 160 GB dense; 4 000 stored entries in two planted blocks.
        const int n = 200_000;
        var (rows, columns, values) = (new List<int>(), new List<int>(), new List<float>());
        var random = new Random(4);
        for (var e = 0; e < 4000; e++)
        {
            var block = e % 2;
            rows.Add(block * 1000 + random.Next(1000));
            columns.Add(block * 100_000 + random.Next(100_000));
            values.Add(1 + random.NextSingle());
        }
        var v = SparseMatrix.FromCoordinates(n, n, rows, columns, values);
        foreach (var beta in new[] { 1.0, 2.0 })
        {
            var fit = new Nmf(2, seed: 1).Fit(v, new NmfFitOptions { Beta = beta, MaxIterations = 20, Tolerance = 0 });
            Assert.True(double.IsFinite(fit.FinalLoss) && fit.FinalLoss < fit.InitialLoss, $"β = {beta}: {fit.InitialLoss} → {fit.FinalLoss}");
        }
    }

    [Fact]
    public void SparseMatrix_CooSumsRepeats_CsrRoundTrips_AndBadArraysAreRefused()
    {
        var m = SparseMatrix.FromCoordinates(2, 3, [0, 1, 0, 0], [2, 0, 2, 1], [1f, 2f, 3f, 4f]);
        Assert.Equal(new float[] { 0, 4, 4, 2, 0, 0 }, m.ToDense().Data);
        var csr = SparseMatrix.FromCsr(2, 3, m.RowStarts, m.ColumnIndices, m.Values);
        Assert.Equal(m.ToDense().Data, csr.ToDense().Data);

        Assert.Contains("outside", Assert.Throws<InvalidInputException>(() => SparseMatrix.FromCoordinates(2, 3, [2], [0], [1f])).Message);
        Assert.Contains("NaN", Assert.Throws<InvalidInputException>(() => SparseMatrix.FromCoordinates(2, 3, [0], [0], [float.NaN])).Message);
        Assert.Contains("differ in length", Assert.Throws<InvalidInputException>(() => SparseMatrix.FromCoordinates(2, 3, [0, 1], [0], [1f])).Message);
        Assert.Contains("rows + 1", Assert.Throws<InvalidInputException>(() => SparseMatrix.FromCsr(2, 3, [0, 1], [0], [1f])).Message);
        Assert.Contains("increase", Assert.Throws<InvalidInputException>(() => SparseMatrix.FromCsr(1, 3, [0, 2], [2, 1], [1f, 1f])).Message);
        Assert.Contains("from 0 to 2", Assert.Throws<InvalidInputException>(() => SparseMatrix.FromCsr(1, 3, [0, 1], [0, 1], [1f, 1f])).Message);

        var nmf = new Nmf(1);
        Assert.Contains("negative", Assert.Throws<InvalidInputException>(() => nmf.Fit(SparseMatrix.FromCoordinates(2, 2, [0], [0], [-1f]))).Message);
        Assert.Contains("all zeros", Assert.Throws<InvalidInputException>(() => nmf.Fit(SparseMatrix.FromCoordinates(2, 2, [], [], []))).Message);
        Assert.Contains("β = 1 and β = 2", Assert.Throws<InvalidOptionException>(() => nmf.Fit(m, new NmfFitOptions { Beta = 0.5 })).Message);
    }
}
