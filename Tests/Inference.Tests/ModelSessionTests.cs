using System.Reflection;
using System.Security.Cryptography;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime.Tensors;
using Pipeline.Inference.Decomposition;
using Pipeline.Inference.Models;
using Pipeline.Inference.Runtime;
using Pipeline.Shared.Errors;
using Pipeline.Shared.Manifest;
using Pipeline.Tests;
using Pipeline.Training.Export.Proto;
using static Pipeline.Inference.Tests.InferenceTests;

namespace Pipeline.Inference.Tests;

/// <summary>The ONNX Runtime layer: official sessions, values and metadata, devices, and what it refuses.</summary>
public class ModelSessionTests
{
    [Fact]
    public void InferenceAssembly_ReferencesOnlySharedAndOnnxRuntimesManagedApi()
    {
        var assembly = typeof(ModelSession).Assembly;
        var references = assembly.GetReferencedAssemblies().Select(a => a.Name!).ToArray();
        Assert.Contains("Pipeline.Shared", references);
        Assert.Contains("Microsoft.ML.OnnxRuntime", references);
        string[] forbidden = ["Training", "TorchSharp", "LibTorch", "Protobuf"];
        foreach (var name in references.Concat(typeof(Pipeline.Shared.Arrays.NdArray).Assembly.GetReferencedAssemblies().Select(a => a.Name!)))
            Assert.DoesNotContain(forbidden, f => name.Contains(f, StringComparison.OrdinalIgnoreCase));
        // No type of the training side, by namespace or by any member's signature.
        Assert.DoesNotContain(assembly.GetTypes(), t => t.Namespace?.Contains("Training") == true);
        var signatures = assembly.GetTypes().SelectMany(t => t.GetMembers(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .SelectMany(m => m switch
            {
                MethodInfo method => method.GetParameters().Select(p => p.ParameterType).Append(method.ReturnType),
                PropertyInfo property => [property.PropertyType],
                FieldInfo field => [field.FieldType],
                _ => [],
            });
        Assert.DoesNotContain(signatures, t => t.Assembly.GetName().Name is { } n && forbidden.Any(f => n.Contains(f, StringComparison.OrdinalIgnoreCase)));
    }

    [Fact]
    public void SharedAndInference_CallNoNativeLibraryOfTheirOwn()
    {
        // [DllImport] and the code [LibraryImport] generates both leave P/Invoke methods; ONNX Runtime's are in its own assembly
        foreach (var assembly in new[] { typeof(Pipeline.Shared.Arrays.NdArray).Assembly, typeof(ModelSession).Assembly })
        {
            var native = assembly.GetTypes()
                .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.DeclaredOnly))
                .Where(m => m.Attributes.HasFlag(MethodAttributes.PinvokeImpl))
                .Select(m => $"{m.DeclaringType}.{m.Name}");
            Assert.Empty(native);
        }
    }

    [Fact]
    public void Session_ReportsInputsOutputsAndMetadata_ThroughTheOfficialTypes()
    {
        var (_, dir) = Exported(1, iterations: 33);
        using var session = ModelSession.FromFile(Path.Combine(dir, "model.onnx"), new RuntimeOptions { Device = Device.Cpu });
        var (name, v) = Assert.Single(session.InputMetadata);
        Assert.Equal("V", name);
        Assert.Equal(TensorElementType.Float, v.ElementDataType);
        Assert.Equal([F, -1], v.Dimensions);
        Assert.Equal("frames", v.SymbolicDimensions[1]);
        Assert.Equal("(24, frames)", ModelSession.ShapeText(v));
        var (initializer, n) = Assert.Single(session.OverridableInitializerMetadata);
        Assert.Equal(("iterations", TensorElementType.Int64), (initializer, n.ElementDataType));
        Assert.Equal(["H", "reconstruction"], session.Session.OutputNames.ToArray());
        var manifest = ModelFolder.FromJson(session.Metadata.CustomMetadataMap[ModelManifest.MetadataKey], "metadata");
        Assert.Equal(33, manifest.Decomposition!.DefaultIterations);
        Assert.Equal("nmf", session.CustomMetadata["pipeline.kind"]);
        Assert.Equal("pipeline-train", session.Metadata.ProducerName);
        Assert.Equal("CPUExecutionProvider", session.Provider);
        Assert.Contains("CPUExecutionProvider", OnnxRuntimeEnvironment.AvailableProviders);
        Assert.Equal("1.31.0", OnnxRuntimeEnvironment.Version);
    }

    [Fact]
    public void Session_FromBytes_EqualsFromFile()
    {
        var (_, dir) = Exported(2);
        var path = Path.Combine(dir, "model.onnx");
        var v = TestData.Uniform(F, 10, 5);
        using var a = ModelSession.FromFile(path);
        using var b = ModelSession.FromBytes(File.ReadAllBytes(path));
        var inputs = new Dictionary<string, ModelInput> { ["V"] = ModelInput.Float(v) };
        Assert.Equal(a.Run(inputs)["H"].Data, b.Run(inputs)["H"].Data);
    }

    [Fact]
    public void Session_OptionsChangeHowNotWhat()
    {
        // Graph optimisation, the arena and threads change the plan, not the answer (beyond float32 reordering).
        var (_, dir) = Exported(1);
        var path = Path.Combine(dir, "model.onnx");
        var v = TestData.Uniform(F, 30, 8);
        using var reference = ModelSession.FromFile(path);
        var expected = reference.Run(new Dictionary<string, ModelInput> { ["V"] = ModelInput.Float(v) })["H"].Data;
        foreach (var options in new RuntimeOptions[]
        {
            new() { OptimizationLevel = Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_DISABLE_ALL },
            new() { CpuMemoryArena = false, IntraOpThreads = 1 },
        })
        {
            using var session = ModelSession.FromFile(path, options);
            var h = session.Run(new Dictionary<string, ModelInput> { ["V"] = ModelInput.Float(v) })["H"].Data;
            Assert.True(TestData.MaxRelativeError(h, expected) < 1e-5);
        }
        Assert.Contains("threads must be ≥ 0", Assert.Throws<InvalidOptionException>(() => ModelSession.FromFile(path, new RuntimeOptions { IntraOpThreads = -1 })).Message);
        var many = Assert.Throws<InvalidOptionException>(() => ModelSession.FromFile(path, new RuntimeOptions { IntraOpThreads = 100_000 })).Message;
        Assert.Contains($"threads must be at most {4 * Environment.ProcessorCount}", many);
    }

    [Fact]
    public void Session_BadInputs_AreTypedErrors()
    {
        var (_, dir) = Exported(1);
        using var session = ModelSession.FromFile(Path.Combine(dir, "model.onnx"));
        var wrongShape = new Dictionary<string, ModelInput> { ["V"] = ModelInput.Float(TestData.Uniform(F + 1, 5, 1)) };
        Assert.Contains("expects (24, frames)", Assert.Throws<InvalidInputException>(() => session.Run(wrongShape)).Message);
        Assert.Contains("missing", Assert.Throws<InvalidInputException>(() => session.Run(new Dictionary<string, ModelInput>())).Message);
        var unknown = new Dictionary<string, ModelInput> { ["V"] = ModelInput.Float(TestData.Uniform(F, 5, 1)), ["X"] = ModelInput.Int64Scalar(1) };
        Assert.Contains("no input 'X'", Assert.Throws<InvalidInputException>(() => session.Run(unknown)).Message);
        var wrongType = new Dictionary<string, ModelInput> { ["V"] = ModelInput.Int64(new long[F * 2], F, 2) };
        Assert.Contains("must be Float", Assert.Throws<InvalidInputException>(() => session.Run(wrongType)).Message);
        var rank = new Dictionary<string, ModelInput> { ["V"] = ModelInput.Float(TestData.Uniform(F, 5, 1)), ["iterations"] = ModelInput.Int64([1, 2], 2) };
        Assert.Contains("expects ()", Assert.Throws<InvalidInputException>(() => session.Run(rank)).Message);
        Assert.Contains("no output 'W'", Assert.Throws<InvalidInputException>(() => session.Run(new Dictionary<string, ModelInput> { ["V"] = ModelInput.Float(TestData.Uniform(F, 5, 1)) }, ["W"])).Message);
        Assert.Throws<InvalidFileException>(() => ModelSession.FromFile(Path.Combine(dir, "absent.onnx")));
    }

    [Fact]
    public void ModelsOnnxRuntimeRefuses_AreTypedErrorsWithItsReason()
    {
        var (_, dir) = Exported(1);
        var bytes = File.ReadAllBytes(Path.Combine(dir, "model.onnx"));

        var garbage = Assert.Throws<ModelRuntimeException>(() => ModelSession.FromBytes("not a model"u8.ToArray()));
        Assert.Equal("InvalidProtobuf", garbage.Code);
        Assert.DoesNotContain("\n", garbage.Message);

        var truncated = Path.Combine(dir, "truncated.onnx");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<ModelRuntimeException>(() => ModelSession.FromFile(truncated));
        Assert.StartsWith(truncated, e.Message);
        Assert.Equal("InvalidProtobuf", e.Code);

        var future = ModelProto.Parser.ParseFrom(bytes);
        future.OpsetImport[0].Version = 999;
        e = Assert.Throws<ModelRuntimeException>(() => ModelSession.FromBytes(future.ToByteArray()));
        Assert.Contains("opset", e.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("999", e.Message);
        Assert.DoesNotContain("onnxruntime_src", e.Message); // ONNX Runtime's C++ source location is not for users

        var noOp = ModelProto.Parser.ParseFrom(bytes);
        noOp.Graph.Node[0].OpType = "NoSuchOperator";
        e = Assert.Throws<ModelRuntimeException>(() => ModelSession.FromBytes(noOp.ToByteArray()));
        Assert.Contains("NoSuchOperator", e.Message);
    }

    [Fact]
    public void ManifestAndGraphThatDisagree_AreContractErrors()
    {
        // A manifest (in manifest.json and inside the graph alike) that says V has 25 rows, over a graph that takes 24.
        var (_, dir) = Exported(1);
        var path = Path.Combine(dir, "model.onnx");
        var manifestPath = Path.Combine(dir, ModelFolder.ManifestFileName);
        var manifest = ModelFolder.FromJson(File.ReadAllText(manifestPath), manifestPath);
        var graphs = manifest.Graphs.Select(g => g.Role != "activations" ? g
            : g with { Inputs = [.. g.Inputs.Select(i => i.Name == "V" ? i with { Shape = [(F + 1).ToString(), "frames"] } : i)] }).ToList();
        var altered = manifest with { Graphs = graphs, Decomposition = manifest.Decomposition! with { Features = F + 1 } }; // consistent in itself
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        model.MetadataProps.Single(p => p.Key == ModelManifest.MetadataKey).Value = ModelFolder.EmbeddedJson(altered);
        File.WriteAllText(manifestPath, ModelFolder.ToJson(altered));
        ReplaceGraph(dir, "model.onnx", model.ToByteArray());
        using var package = ModelPackage.Open(dir);
        var e = Assert.Throws<ModelContractException>(() => package.Session("activations"));
        Assert.Contains("input 'V' is float32 (24, frames) in the graph but float32 (25, frames) in the manifest", e.Message);
    }

    [Fact]
    public void Cuda_OnThisBuild_IsAClearError_AndAutoFallsBackToTheCpu()
    {
        // The tests carry the CPU natives: CUDA is not in this ONNX Runtime at all (the GPU flavour of the host is
        // tested end to end). On a build that has it, the error would name the CUDA library that is missing.
        var (_, dir) = Exported(1);
        var path = Path.Combine(dir, "model.onnx");
        Assert.DoesNotContain("CUDAExecutionProvider", OnnxRuntimeEnvironment.AvailableProviders);
        var e = Assert.Throws<DeviceUnavailableException>(() => ModelSession.FromFile(path, new RuntimeOptions { Device = Device.Cuda }));
        Assert.Contains("--device cuda", e.Message);
        Assert.Contains("no CUDA provider", e.Message);
        using var auto = ModelSession.FromFile(path, new RuntimeOptions { Device = Device.Auto });
        Assert.Equal("CPUExecutionProvider", auto.Provider);
        Assert.Contains("no CUDA provider", auto.CudaUnavailable);
        using var cpu = ModelSession.FromFile(path, new RuntimeOptions { Device = Device.Cpu });
        Assert.Null(cpu.CudaUnavailable);
    }

    [Fact]
    public void Outputs_AreTheSameWhetherOnnxRuntimeOrWeAllocateThem()
    {
        // "frames" in every output follows from the input: the run writes into our arrays. Asking for an output by
        // a graph whose output dimension has no name forces ONNX Runtime's own allocation; both give one answer.
        var (_, dir) = Exported(1);
        var bytes = File.ReadAllBytes(Path.Combine(dir, "model.onnx"));
        var anonymous = ModelProto.Parser.ParseFrom(bytes);
        foreach (var output in anonymous.Graph.Output) output.Type.TensorType.Shape.Dim[^1].DimParam = "";
        using var named = ModelSession.FromBytes(bytes);
        using var unnamed = ModelSession.FromBytes(anonymous.ToByteArray());
        var v = TestData.Uniform(F, 12, 9);
        var a = named.Run(new Dictionary<string, ModelInput> { ["V"] = ModelInput.Float(v) });
        var b = unnamed.Run(new Dictionary<string, ModelInput> { ["V"] = ModelInput.Float(v) });
        Assert.Equal([K, 12], b["H"].Shape);
        Assert.Equal(a["H"].Data, b["H"].Data);
        Assert.Equal(a["reconstruction"].Data, b["reconstruction"].Data);
    }

    /// <summary>Puts <paramref name="bytes"/> in place of a graph and updates its hash, as a careless hand would.</summary>
    internal static void ReplaceGraph(string dir, string file, byte[] bytes)
    {
        File.WriteAllBytes(Path.Combine(dir, file), bytes);
        var manifestPath = Path.Combine(dir, ModelFolder.ManifestFileName);
        var manifest = ModelFolder.FromJson(File.ReadAllText(manifestPath), manifestPath);
        var hashes = new Dictionary<string, string>(manifest.Files!) { [file] = Convert.ToHexStringLower(SHA256.HashData(bytes)) };
        File.WriteAllText(manifestPath, ModelFolder.ToJson(manifest with { Files = hashes }));
    }
}
