using Pipeline.Inference.Decomposition;
using Pipeline.Inference.Models;
using Pipeline.Inference.Runtime;
using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;
using Pipeline.Shared.Manifest;
using Pipeline.Tests;
using Pipeline.Training.Decomposition;
using Pipeline.Training.Export;

namespace Pipeline.Inference.Tests;

public class InferenceTests
{
    const int F = 24, K = 4;

    static (Nmf Model, string Dir) Exported(double beta, int iterations = 50, int seed = 0)
    {
        var (v, _, _) = TestData.Planted(F, 60, K, seed: 20 + seed);
        var model = new Nmf(K, seed);
        model.Fit(v, new NmfFitOptions { Beta = beta, MaxIterations = 100 });
        var dir = Path.Combine(TestData.TempDirectory(), "nmf");
        NmfExport.Export(model, dir, "test", beta, iterations);
        return (model, dir);
    }

    [Fact]
    public void InferenceAssembly_ReferencesNeitherTrainingNorBlas()
    {
        var assembly = typeof(InferenceSession).Assembly;
        var references = assembly.GetReferencedAssemblies().Select(a => a.Name!).ToArray();
        Assert.Contains("Pipeline.Shared", references);
        Assert.DoesNotContain(references, r => r.Contains("Training") || r.Contains("Protobuf") || r.Contains("Tensors"));
        Assert.DoesNotContain(assembly.GetTypes(), t => t.Namespace?.Contains("Training") == true);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    [InlineData(1.5)]
    [InlineData(2.0)]
    [InlineData(3.0)]
    public void ActivationEstimator_MatchesTrainingSide(double beta)
    {
        var (model, dir) = Exported(beta);
        var v = TestData.Uniform(F, 37, seed: 3, low: 0.1f);
        var expected = model.Transform(v, beta, 50);
        using var estimator = new ActivationEstimator(dir);
        var result = estimator.Estimate(v);
        Assert.Equal([K, 37], result.Activations.Shape);
        var error = TestData.MaxRelativeError(result.Activations.Data, expected.Data);
        Assert.True(error < 1e-4, $"H differs by {error}");
        var wh = new Nmf(model.W, expected, seed: 0).Reconstruct();
        Assert.True(TestData.MaxRelativeError(result.Reconstruction.Data, wh.Data) < 1e-4);

        // The iteration count is an input with a default: asking for 5 gives the 5-update answer.
        var five = estimator.Estimate(v, iterations: 5).Activations;
        Assert.True(TestData.MaxRelativeError(five.Data, model.Transform(v, beta, 5).Data) < 1e-4);
    }

    [Fact]
    public void Reconstructor_MatchesTrainingSide()
    {
        var (model, dir) = Exported(1);
        var h = TestData.Uniform(K, 19, seed: 4);
        using var reconstructor = new Reconstructor(dir);
        var expected = new Nmf(model.W, h).Reconstruct();
        Assert.True(TestData.MaxRelativeError(reconstructor.Reconstruct(h).Data, expected.Data) < 1e-5);
    }

    [Fact]
    public void Session_ReportsInputsOutputsAndMetadata()
    {
        var (_, dir) = Exported(1, iterations: 33);
        using var session = InferenceSession.FromFile(Path.Combine(dir, "model.onnx"));
        var v = Assert.Single(session.Inputs);
        Assert.Equal("V", v.Name);
        Assert.Equal(TensorElementType.Float, v.ElementType);
        Assert.Equal([F, -1], v.Shape);
        Assert.Equal("frames", v.SymbolicDims[1]);
        Assert.Equal("(24, frames)", v.ShapeText);
        var n = Assert.Single(session.OverridableInitializers);
        Assert.Equal(("iterations", TensorElementType.Int64), (n.Name, n.ElementType));
        Assert.Equal(["H", "reconstruction"], session.Outputs.Select(o => o.Name).ToArray());
        var manifest = ModelFolder.FromJson(session.CustomMetadata[ModelManifest.MetadataKey], "metadata");
        Assert.Equal(33, manifest.Decomposition!.DefaultIterations);
        Assert.Equal("nmf", session.CustomMetadata["pipeline.kind"]);
        Assert.Contains("CPUExecutionProvider", OrtEnvironment.AvailableProviders);
        Assert.StartsWith("1.30", OrtEnvironment.RuntimeVersion);
    }

    [Fact]
    public void Session_FromBytes_EqualsFromFile()
    {
        var (_, dir) = Exported(2);
        var path = Path.Combine(dir, "model.onnx");
        var v = TestData.Uniform(F, 10, 5);
        using var a = InferenceSession.FromFile(path);
        using var b = InferenceSession.FromBytes(File.ReadAllBytes(path));
        var inputs = new Dictionary<string, OrtInput> { ["V"] = OrtInput.Float(v) };
        Assert.Equal(a.Run(inputs)["H"].Data, b.Run(inputs)["H"].Data);
    }

    [Fact]
    public void Session_ConcurrentRuns_GiveTheSameResults()
    {
        var (_, dir) = Exported(1);
        using var session = InferenceSession.FromFile(Path.Combine(dir, "model.onnx"));
        var inputs = Enumerable.Range(0, 8).Select(i => TestData.Uniform(F, 20 + i, seed: 100 + i)).ToArray();
        var sequential = inputs.Select(v => session.Run(new Dictionary<string, OrtInput> { ["V"] = OrtInput.Float(v) })["H"].Data).ToArray();
        var parallel = new float[8][][];
        Parallel.For(0, 8, new ParallelOptions { MaxDegreeOfParallelism = 8 }, round =>
        {
            parallel[round] = new float[8][];
            for (var i = 0; i < 8; i++)
            {
                var j = (i + round) % 8;
                parallel[round][j] = session.Run(new Dictionary<string, OrtInput> { ["V"] = OrtInput.Float(inputs[j]) })["H"].Data;
            }
        });
        // Every concurrent run returns its own input's answer. Not bit for bit: ONNX Runtime may split a product
        // differently while its thread pool is busy, which reorders float32 sums (relative error ≪ 1e-5 here,
        // 50 updates of K = 4 terms), while a mixed-up input would differ at the first digit.
        foreach (var round in parallel)
            for (var i = 0; i < 8; i++)
                Assert.True(TestData.MaxRelativeError(round[i], sequential[i]) < 1e-5, $"input {i} came back changed under concurrency");
    }

    [Fact]
    public void Session_BadInputs_AreTypedErrors()
    {
        var (_, dir) = Exported(1);
        using var session = InferenceSession.FromFile(Path.Combine(dir, "model.onnx"));
        var wrongShape = new Dictionary<string, OrtInput> { ["V"] = OrtInput.Float(TestData.Uniform(F + 1, 5, 1)) };
        Assert.Contains("expects (24, frames)", Assert.Throws<InvalidInputException>(() => session.Run(wrongShape)).Message);
        Assert.Contains("missing", Assert.Throws<InvalidInputException>(() => session.Run(new Dictionary<string, OrtInput>())).Message);
        var unknown = new Dictionary<string, OrtInput> { ["V"] = OrtInput.Float(TestData.Uniform(F, 5, 1)), ["X"] = OrtInput.Int64Scalar(1) };
        Assert.Contains("no input 'X'", Assert.Throws<InvalidInputException>(() => session.Run(unknown)).Message);
        var wrongType = new Dictionary<string, OrtInput> { ["V"] = OrtInput.Int64(new long[F * 2], F, 2) };
        Assert.Contains("must be Float", Assert.Throws<InvalidInputException>(() => session.Run(wrongType)).Message);
        // ONNX Runtime's own errors carry its message and code.
        var garbage = Assert.Throws<OnnxRuntimeException>(() => InferenceSession.FromBytes("not a model"u8));
        Assert.Contains("ONNX Runtime", garbage.Message);
        Assert.Throws<InvalidFileException>(() => InferenceSession.FromFile(Path.Combine(dir, "absent.onnx")));
    }

    [Fact]
    public void CudaProvider_WorksOrSaysWhyNot()
    {
        var (_, dir) = Exported(1);
        var options = new SessionOptions { Provider = ExecutionProvider.Cuda };
        // A build may list CUDA among its providers and still lack the provider library or the driver.
        InferenceSession? session = null;
        try
        {
            session = InferenceSession.FromFile(Path.Combine(dir, "model.onnx"), options);
            Assert.Equal(ExecutionProvider.Cuda, session.Provider);
            Assert.Equal(K, session.Run(new Dictionary<string, OrtInput> { ["V"] = OrtInput.Float(TestData.Uniform(F, 5, 1)) })["H"].Shape[0]);
        }
        catch (OnnxRuntimeException e)
        {
            Assert.Contains("CUDA execution provider is not available", e.Message);
            Assert.Contains("1.30", e.Message);
        }
        finally
        {
            session?.Dispose();
        }
    }

    [Fact]
    public void Estimator_BadData_IsRejectedBeforeOnnxRuntime()
    {
        var (_, dir) = Exported(0);
        using var estimator = new ActivationEstimator(dir);
        Assert.Contains("expects (24, frames)", Assert.Throws<InvalidInputException>(() => estimator.Estimate(TestData.Uniform(5, 5, 1))).Message);
        var bad = TestData.Uniform(F, 5, 1);
        bad[3, 3] = -1;
        Assert.Contains("negative", Assert.Throws<InvalidInputException>(() => estimator.Estimate(bad)).Message);
        bad[3, 3] = float.NaN;
        Assert.Contains("NaN", Assert.Throws<InvalidInputException>(() => estimator.Estimate(bad)).Message);
        bad[3, 3] = 0;
        Assert.Contains("β = 0", Assert.Throws<InvalidInputException>(() => estimator.Estimate(bad)).Message);
        Assert.Throws<InvalidOptionException>(() => estimator.Estimate(TestData.Uniform(F, 5, 1), iterations: -1));
    }

    [Fact]
    public void ModelPackage_MixedOrAlteredFolders_AreContractErrors()
    {
        var (_, a) = Exported(1, seed: 1);
        var (_, b) = Exported(1, seed: 2);

        // A graph from another model, with the manifest's hash updated to match: the embedded manifest still differs.
        var other = Path.Combine(b, "model.onnx");
        File.Copy(other, Path.Combine(a, "model.onnx"), overwrite: true);
        var manifestPath = Path.Combine(a, ModelFolder.ManifestFileName);
        var manifest = ModelFolder.FromJson(File.ReadAllText(manifestPath), manifestPath);
        var hashes = new Dictionary<string, string>(manifest.Files!) { ["model.onnx"] = ModelFolder.Read(b).Files!["model.onnx"] };
        File.WriteAllText(manifestPath, ModelFolder.ToJson(manifest with { Files = hashes, Name = manifest.Name }));
        using (var package = ModelPackage.Open(a))
            Assert.Contains("differs", Assert.Throws<ModelContractException>(() => package.Session("activations")).Message);

        // A graph swapped in without touching the manifest: the hash catches it at open.
        File.Copy(Path.Combine(b, "reconstruction.onnx"), Path.Combine(a, "reconstruction.onnx"), overwrite: true);
        var (_, c) = Exported(1, seed: 3);
        File.Copy(other, Path.Combine(c, "model.onnx"), overwrite: true);
        Assert.Contains("do not match the manifest", Assert.Throws<ModelContractException>(() => new ActivationEstimator(c)).Message);

        Assert.Contains("is a 'nmf' model", Assert.Throws<ModelContractException>(() => ModelPackage.Open(b, expectedKind: "autoencoder")).Message);
        File.Delete(Path.Combine(b, "reconstruction.onnx"));
        Assert.Contains("missing", Assert.Throws<ModelContractException>(() => new Reconstructor(b)).Message);
    }
}
