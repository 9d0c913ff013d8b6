using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;
using Pipeline.Tests;
using Pipeline.Training.Decomposition;
using Pipeline.Training.Engine;
using Pipeline.Training.Mixtures;
using Pipeline.Training.Trainers;

namespace Pipeline.Training.Tests;

[Collection(LibTorchCollection.Name)]
public class NmfTests
{
    /// <summary>The textbook β multiplicative update of H, in double precision, straight from its definition.</summary>
    static double[] ReferenceUpdateH(NdArray v, NdArray w, NdArray h, double beta)
    {
        int f = v.Rows, t = v.Columns, k = w.Columns;
        var gamma = beta < 1 ? 1 / (2 - beta) : beta > 2 ? 1 / (beta - 1) : 1;
        var result = new double[k * t];
        for (var r = 0; r < k; r++)
            for (var j = 0; j < t; j++)
            {
                double num = 0, den = 0;
                for (var i = 0; i < f; i++)
                {
                    double y = 0;
                    for (var q = 0; q < k; q++) y += (double)w[i, q] * h[q, j];
                    num += w[i, r] * v[i, j] * Math.Pow(y, beta - 2);
                    den += w[i, r] * Math.Pow(y, beta - 1);
                }
                result[r * t + j] = h[r, j] * Math.Pow(num / den, gamma);
            }
        return result;
    }

    static NdArray Transpose(NdArray m)
    {
        var t = NdArray.Zeros(m.Columns, m.Rows);
        for (var r = 0; r < m.Rows; r++) for (var c = 0; c < m.Columns; c++) t[c, r] = m[r, c];
        return t;
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.5)]
    [InlineData(1.0)]
    [InlineData(1.5)]
    [InlineData(2.0)]
    [InlineData(3.0)]
    public void MultiplicativeUpdate_MatchesTheDefinition_ForHAndW(double beta)
    {
        var v = TestData.Uniform(9, 13, seed: 1, low: 0.2f);
        var w = TestData.Uniform(9, 4, seed: 2, low: 0.2f);
        var h = TestData.Uniform(4, 13, seed: 3, low: 0.2f);
        var expectedH = ReferenceUpdateH(v, w, h, beta);
        // W's update is H's update of the transposed problem Vᵀ ≈ Hᵀ Wᵀ.
        var expectedW = ReferenceUpdateH(Transpose(v), Transpose(h), Transpose(w), beta);

        foreach (var fused in new[] { true, false })
        {
            using var model = Component(v, w, h);
            using var vt = TorchArrays.FromNdArray(Transpose(v));
            using IMultiplicativeUpdates updates = fused
                ? new MultiplicativeUpdates(vt, model, beta, 1e-12f, 0, 0)
                : new ModuleMultiplicativeUpdates(vt, model, beta, 1e-12f, 0, 0);
            updates.UpdateH();
            Assert.True(TestData.MaxRelativeError(Transpose(TorchArrays.ToNdArray(model.H)).Data, expectedH.Select(x => (float)x).ToArray()) < 1e-5, $"fused {fused}: H");
            model.H.detach().copy_(TorchArrays.FromNdArray(Transpose(h)));
            updates.UpdateW();
            Assert.True(TestData.MaxRelativeError(Transpose(TorchArrays.ToNdArray(model.W)).Data, expectedW.Select(x => (float)x).ToArray()) < 1e-5, $"fused {fused}: W");
        }
    }

    /// <summary>torchnmf's module for V (F, T) ≈ W·H: V (T, F) ≈ Hᵀ·Wᵀ.</summary>
    static NmfComponent Component(NdArray v, NdArray w, NdArray h)
    {
        using var wt = TorchArrays.FromNdArray(w);
        using var ht = TorchArrays.FromNdArray(Transpose(h));
        return new NmfComponent([v.Columns, v.Rows], w.Columns, w: wt, h: ht);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.5)]
    [InlineData(1.0)]
    [InlineData(1.5)]
    [InlineData(2.0)]
    [InlineData(3.0)]
    public void FusedCpuKernels_FollowBetaMusSteps_WithPenaltiesAndNormalisation(double beta)
    {
        var v = TestData.Uniform(30, 40, seed: 4, low: 0.01f);
        var options = new NmfFitOptions { Beta = beta, MaxIterations = 25, Tolerance = 0, LossEvery = 1, Alpha = 0.05, L1Ratio = 0.3, Normalize = FactorNormalization.W };
        var fused = new Nmf(5, seed: 1);
        var fusedFit = fused.Fit(v, options);
        var module = new Nmf(5, seed: 1);
        var moduleFit = module.Fit(v, options with { FusedKernels = false });
        for (var i = 0; i < fusedFit.LossHistory.Count; i++)
        {
            var (a, b) = (fusedFit.LossHistory[i].Loss, moduleFit.LossHistory[i].Loss);
            Assert.True(Math.Abs(a - b) <= 1e-4 * b, $"iteration {i}: fused {a}, BetaMu {b}");
        }
        Assert.True(TestData.MaxRelativeError(fused.W!.Data, module.W!.Data) < 1e-3);
        Assert.True(TestData.MaxRelativeError(fused.H!.Data, module.H!.Data) < 1e-3);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.5)]
    [InlineData(1.0)]
    [InlineData(1.5)]
    [InlineData(2.0)]
    [InlineData(3.0)]
    public void Nmf_Updates_NeverIncreaseLoss(double beta)
    {
        var v = TestData.Uniform(30, 40, seed: 4, low: 0.01f);
        var losses = new List<double>();
        var result = new Nmf(5, seed: 1).Fit(v, new NmfFitOptions { Beta = beta, MaxIterations = 60, Tolerance = 0, LossEvery = 1 },
            new Shared.Threading.SynchronousProgress<NmfProgress>(p => losses.Add(p.Loss)));
        Assert.Equal(61, losses.Count);
        Assert.Equal(60, result.Iterations);
        // Majorisation-minimisation: each step is non-increasing up to float32 rounding of the sums.
        for (var i = 1; i < losses.Count; i++) Assert.True(losses[i] <= losses[i - 1] * (1 + 1e-5), $"loss rose at {i}: {losses[i - 1]} -> {losses[i]}");
        Assert.True(losses[^1] < 0.8 * losses[0]);
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(2.0)]
    public void Nmf_RecoversPlantedExactFactorisation(double beta)
    {
        var (v, _, _) = TestData.Planted(20, 50, rank: 3, seed: 5);
        var model = new Nmf(3, seed: 2);
        model.Fit(v, new NmfFitOptions { Beta = beta, MaxIterations = 3000, Tolerance = 0, LossEvery = 100 });
        var error = TestData.MaxRelativeError(model.Reconstruct().Data, v.Data);
        Assert.True(error < 2e-2, $"relative error {error}");
    }

    [Fact]
    public void Nmf_SameSeed_SameModel_OtherSeed_OtherModel()
    {
        var v = TestData.Uniform(12, 20, seed: 6);
        NdArray Fit(int seed)
        {
            var m = new Nmf(3, seed);
            m.Fit(v, new NmfFitOptions { MaxIterations = 30 });
            return m.W!;
        }
        Assert.Equal(Fit(3).Data, Fit(3).Data);
        Assert.NotEqual(Fit(3).Data, Fit(4).Data);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    [InlineData(1.5)]
    [InlineData(2.0)]
    public void FixedTemplates_TheTrainersHUpdatesAreTheActivationUpdate_TheExportedGraphsDefinition(double beta)
    {
        var (v, w, _) = TestData.Planted(16, 30, rank: 4, seed: 7);
        var start = new NdArray([4, 30], Enumerable.Repeat(Nmf.InitialActivation(v, 4), 4 * 30).ToArray());
        var expected = Nmf.EstimateActivations(w, v, beta, iterations: 25);
        foreach (var fused in new[] { true, false })
        {
            var model = new Nmf(w, start, trainableW: false);
            model.Fit(v, new NmfFitOptions { Beta = beta, MaxIterations = 25, Tolerance = 0, FusedKernels = fused });
            Assert.True(TestData.MaxRelativeError(model.H!.Data, expected.Data) < 1e-4, $"fused {fused}");
        }
    }

    [Fact]
    public void Nmf_FixedTemplates_StayFixed_AndActivationsMatchEstimateActivations()
    {
        var (v, w, _) = TestData.Planted(16, 30, rank: 4, seed: 7);
        var model = Nmf.FromTemplates(w);
        model.Fit(v, new NmfFitOptions { MaxIterations = 200, Tolerance = 0 });
        Assert.Equal(w.Data, model.W!.Data);
        Assert.True(TestData.MaxRelativeError(model.Reconstruct().Data, v.Data) < 0.05);

        var h = Nmf.EstimateActivations(w, v, beta: 1, iterations: 300);
        var wh = Nmf.Product(w, h);
        Assert.True(TestData.MaxRelativeError(wh.Data, v.Data) < 0.05);
    }

    [Fact]
    public void Nmf_FixedActivations_StayFixed_WhileTemplatesAreLearned()
    {
        var (v, _, h) = TestData.Planted(16, 30, rank: 4, seed: 9);
        var model = new Nmf(null, h, trainableW: true, trainableH: false, seed: 3);
        var result = model.Fit(v, new NmfFitOptions { Beta = 2, MaxIterations = 300, Tolerance = 0 });
        Assert.Equal(h.Data, model.H!.Data);
        Assert.True(result.FinalLoss < 1e-3 * result.InitialLoss);
    }

    [Fact]
    public void Nmf_ScikitLearnFacade_FitTransformIterationCountAndReconstructionError_OverTorchnmfsModule()
    {
        var (v, _, _) = TestData.Planted(20, 30, rank: 3, seed: 9);
        var model = new Nmf(3, seed: 4);
        var h = model.FitTransform(v, new NmfFitOptions { Beta = 2, Tolerance = 0, MaxIterations = 40 });
        Assert.Equal(40, model.IterationCount);
        Assert.Equal(model.H!.Data, h.Data);
        // scikit-learn's reconstruction_err_ at β = 2: the Frobenius norm of V − W·H
        var wh = model.Reconstruct();
        var frobenius = Math.Sqrt(v.Data.Zip(wh.Data, (a, b) => (double)(a - b) * (a - b)).Sum());
        Assert.Equal(frobenius, model.ReconstructionError, frobenius * 1e-4);
        // the module holds torchnmf's layout: V (T, F) ≈ H (T, K)·W (F, K)ᵀ
        Assert.Equal([30L, 3L], model.Module!.H.shape);
        Assert.Equal([20L, 3L], model.Module.W.shape);
        using var forward = model.Module.forward();
        Assert.True(TestData.MaxRelativeError(Transpose(TorchArrays.ToNdArray(forward)).Data, wh.Data) < 1e-5);
    }

    [Fact]
    public void Nmf_Tolerance_StopsEarly_ZeroToleranceRunsAll()
    {
        var (v, _, _) = TestData.Planted(20, 30, rank: 2, seed: 8);
        var early = new Nmf(2, 0).Fit(v, new NmfFitOptions { Tolerance = 1e-2, MaxIterations = 500 });
        Assert.True(early.Converged);
        Assert.True(early.Iterations < 500);
        Assert.Equal(0, early.Iterations % 10);
        var all = new Nmf(2, 0).Fit(v, new NmfFitOptions { Tolerance = 0, MaxIterations = 37 });
        Assert.False(all.Converged);
        Assert.Equal(37, all.Iterations);
        Assert.Equal(37, all.LossHistory[^1].Iteration);
    }

    [Fact]
    public void Nmf_L1Penalty_MakesActivationsSparser()
    {
        var v = TestData.Uniform(20, 60, seed: 9);
        double Sparseness(double alpha)
        {
            var m = new Nmf(6, 1);
            m.Fit(v, new NmfFitOptions { Alpha = alpha, L1Ratio = 1, MaxIterations = 200, Tolerance = 0 });
            return BetaDivergence.Sparseness(m.H!.Data);
        }
        Assert.True(Sparseness(5) > Sparseness(0) + 0.05);
    }

    [Fact]
    public void Nmf_BadInput_IsTypedAndSaysWhat()
    {
        var v = TestData.Uniform(5, 6, seed: 10);
        var fit = (NdArray x, NmfFitOptions? o) => new Nmf(2).Fit(x, o);

        var negative = v.Clone(); negative[1, 2] = -0.5f;
        Assert.Contains("negative", Assert.Throws<InvalidInputException>(() => fit(negative, null)).Message);
        var nan = v.Clone(); nan[0, 0] = float.NaN;
        Assert.Contains("NaN", Assert.Throws<InvalidInputException>(() => fit(nan, null)).Message);
        var inf = v.Clone(); inf[4, 5] = float.PositiveInfinity;
        Assert.Contains("infinite", Assert.Throws<InvalidInputException>(() => fit(inf, null)).Message);
        var zero = v.Clone(); zero[2, 3] = 0;
        Assert.Contains("zero at [2, 3]", Assert.Throws<InvalidInputException>(() => fit(zero, new NmfFitOptions { Beta = 0 })).Message);
        fit(zero, new NmfFitOptions { Beta = 1, MaxIterations = 2 });
        Assert.Contains("empty", Assert.Throws<InvalidInputException>(() => fit(NdArray.Zeros(0, 4), null)).Message);
        Assert.Contains("matrix", Assert.Throws<InvalidInputException>(() => fit(new NdArray([3], [1, 2, 3]), null)).Message);

        Assert.Throws<InvalidOptionException>(() => new Nmf(0));
        Assert.Contains("larger than both", Assert.Throws<InvalidOptionException>(() => new Nmf(7).Fit(v)).Message);
        new Nmf(6).Fit(v, new NmfFitOptions { MaxIterations = 1 });
        var bad = Assert.Throws<InvalidOptionException>(() => fit(v, new NmfFitOptions { Tolerance = -1, L1Ratio = 2, MaxIterations = 0 })).Message;
        Assert.Contains("tolerance", bad);
        Assert.Contains("l1 ratio", bad);
        Assert.Contains("max iterations", bad);
        Assert.Contains("features", Assert.Throws<InvalidInputException>(() => Nmf.FromTemplates(TestData.Uniform(4, 2, 1)).Fit(v)).Message);
    }

    [Fact]
    public void BetaDivergence_MatchesClosedForms()
    {
        float[] v = [0.5f, 2f, 0f, 3f], y = [1f, 1.5f, 0.25f, 3f];
        Assert.Equal(0.5 * (0.25 + 0.25 + 0.0625), BetaDivergence.Euclidean(v, y), 6);
        var kl = 0.5 * Math.Log(0.5) - 0.5 + 1 + 2 * Math.Log(2 / 1.5) - 2 + 1.5 + 0.25;
        Assert.Equal(kl, BetaDivergence.KlDivergence(v, y), 6);
        float[] vp = [0.5f, 2f, 3f], yp = [1f, 1.5f, 3f];
        var isd = 0.5 - Math.Log(0.5) - 1 + 2 / 1.5 - Math.Log(2 / 1.5) - 1;
        Assert.Equal(isd, BetaDivergence.ItakuraSaito(vp, yp), 6);
        // The general formula tends to its limits: β = 1 ± 1e-6 lands on KL, and β = 2 matches the Euclidean form.
        Assert.Equal(kl, BetaDivergence.Compute(v, y, 1 + 1e-6), 5);
        Assert.Equal(kl, BetaDivergence.Compute(v, y, 1 - 1e-6), 5);
        Assert.Equal(BetaDivergence.Euclidean(vp, yp), BetaDivergence.Compute(vp, yp, 2.0 + 1e-9), 5);
        Assert.Equal(1.0, BetaDivergence.Sparseness([0, 0, 5, 0]), 9);
        Assert.Equal(0.0, BetaDivergence.Sparseness([2, 2, 2, 2]), 9);
    }

    [Fact]
    public void Blas_Gemm_MatchesNaiveProduct_WithTransposes()
    {
        var a = TestData.Uniform(7, 5, 11);
        var b = TestData.Uniform(5, 6, 12);
        var at = Transpose(a);
        var bt = Transpose(b);
        var expected = new float[7 * 6];
        for (var i = 0; i < 7; i++) for (var j = 0; j < 6; j++) { double s = 0; for (var q = 0; q < 5; q++) s += (double)a[i, q] * b[q, j]; expected[i * 6 + j] = (float)s; }
        foreach (var (ta, tb) in new[] { (false, false), (true, false), (false, true), (true, true) })
        {
            var c = new float[42];
            Blas.Gemm(ta, tb, 7, 6, 5, 1f, ta ? at.Data : a.Data, ta ? 7 : 5, tb ? bt.Data : b.Data, tb ? 5 : 6, 0f, c, 6);
            Assert.True(TestData.MaxRelativeError(c, expected) < 1e-6);
        }
        Assert.Throws<ArgumentException>(() => Blas.MatMul(a.Data, b.Data, new float[41], 7, 5, 6));
    }
}
