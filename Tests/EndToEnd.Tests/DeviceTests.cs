using System.Security.Cryptography;
using System.Text.Json;
using Pipeline.Shared.Arrays;
using Pipeline.Shared.Manifest;
using Pipeline.Tests;
using static Pipeline.EndToEnd.Tests.Hosts;

namespace Pipeline.EndToEnd.Tests;

/// <summary>
/// <c>--device</c> and the two ONNX Runtime flavours of <c>pipeline-infer</c> (CPU natives, and the GPU package)
/// on this machine, which has no CUDA: both run models on the CPU provider, and asking for CUDA is a clear error.
/// </summary>
public class DeviceTests
{
    static (string Model, string V, string Dir) Trained()
    {
        var dir = TestData.TempDirectory();
        NpyFile.Write(Path.Combine(dir, "V.npy"), TestData.Planted(20, 40, rank: 3, seed: 4).V);
        var model = Path.Combine(dir, "model");
        var train = Run("pipeline-train", "nmf", "--input", Path.Combine(dir, "V.npy"), "--rank", "3", "--out", model, "--max-iter", "50", "--quiet");
        Assert.True(train.Code == 0, train.Err);
        return (model, Path.Combine(dir, "V.npy"), dir);
    }

    static void OneLineError((int Code, string Out, string Err) r, params string[] fragments)
    {
        Assert.True(r.Code == 1, $"exit {r.Code}: {r.Err}");
        var line = Assert.Single(r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: ", line);
        foreach (var fragment in fragments) Assert.Contains(fragment, line);
    }

    [Fact]
    public void CpuFlavour_RunsOnTheCpu_SaysSo_AndRefusesCuda()
    {
        var (model, v, dir) = Trained();
        var auto = Run("pipeline-infer", "activations", "--model", model, "--input", v, "--out", Path.Combine(dir, "H.npy"), "--verbose", "--json");
        Assert.True(auto.Code == 0, auto.Err);
        Assert.Contains("running on CPUExecutionProvider", auto.Err);
        Assert.Contains("(auto: this ONNX Runtime (1.31.0, providers: CPUExecutionProvider) has no CUDA provider", auto.Err);
        Assert.Equal("CPUExecutionProvider", JsonDocument.Parse(auto.Out).RootElement.GetProperty("provider").GetString());

        OneLineError(Run("pipeline-infer", "activations", "--model", model, "--input", v, "--out", Path.Combine(dir, "H2.npy"), "--device", "cuda"),
            "--device cuda", "has no CUDA provider", "./run setup --gpu");
        Assert.False(File.Exists(Path.Combine(dir, "H2.npy")));

        // ONNX Runtime's own warnings (the exported graphs' overridable iteration count draws one) stay off stderr
        var cpu = Run("pipeline-infer", "activations", "--model", model, "--input", v, "--out", Path.Combine(dir, "H3.npy"), "--device", "cpu", "--quiet");
        Assert.True(cpu.Code == 0, cpu.Err);
        Assert.Equal("", cpu.Err);

        // options that do not parse: one line, exit 1, no help dumped on standard output
        foreach (var (args, message) in new (string[], string)[]
        {
            (["--device", "tpu"], "--device must be cpu, cuda or auto, got 'tpu'"),
            (["--device", "1"], "--device must be cpu, cuda or auto, got '1'"),
            (["--cpu-arena", "maybe"], "--cpu-arena must be true or false, got 'maybe'"),
            (["--graph-optimization", "max"], "--graph-optimization must be disabled, basic, extended or all, got 'max'"),
            (["--threads", "abc"], "abc"),
            (["--threads", "100000"], "threads must be at most"),
        })
        {
            var bad = Run("pipeline-infer", ["info", "--model", model, .. args]);
            OneLineError(bad, message);
            Assert.Equal("", bad.Out);
        }

        var info = Run("pipeline-infer", "info", "--model", model, "--json", "--device", "cpu", "--graph-optimization", "basic", "--cpu-arena", "false");
        Assert.True(info.Code == 0, info.Err);
        var json = JsonDocument.Parse(info.Out).RootElement;
        Assert.Equal("1.31.0", json.GetProperty("onnxruntime").GetString());
        Assert.Equal("CPUExecutionProvider", json.GetProperty("providers").GetProperty("activations").GetString());
        Assert.Equal("nmf", json.GetProperty("manifest").GetProperty("kind").GetString());
        Assert.Equal(JsonValueKind.Null, json.GetProperty("cuda_unavailable").ValueKind);
    }

    [Fact]
    public void GpuFlavour_RunsOnItsCpuProvider_EqualToTheCpuFlavour_AndNamesWhatCudaLacks()
    {
        var gpu = GpuFlavourDll();
        var (model, v, dir) = Trained();
        var cpu = Run("pipeline-infer", "activations", "--model", model, "--input", v, "--out", Path.Combine(dir, "H_cpu.npy"), "--device", "cpu");
        Assert.True(cpu.Code == 0, cpu.Err);

        var info = RunAssembly(gpu, "info", "--model", model, "--json");
        Assert.True(info.Code == 0, info.Err);
        var json = JsonDocument.Parse(info.Out).RootElement;
        Assert.Contains("CUDAExecutionProvider", json.GetProperty("available_providers").EnumerateArray().Select(p => p.GetString()));
        var provider = json.GetProperty("providers").GetProperty("activations").GetString();

        var onCpu = RunAssembly(gpu, "activations", "--model", model, "--input", v, "--out", Path.Combine(dir, "H_gpu.npy"), "--device", "cpu");
        Assert.True(onCpu.Code == 0, onCpu.Err);
        // The same provider code over the same graph: the same bytes.
        Assert.Equal(NpyFile.Read(Path.Combine(dir, "H_cpu.npy")).Data, NpyFile.Read(Path.Combine(dir, "H_gpu.npy")).Data);

        var cuda = RunAssembly(gpu, "activations", "--model", model, "--input", v, "--out", Path.Combine(dir, "H_cuda.npy"), "--device", "cuda");
        if (provider == "CUDAExecutionProvider")
        {
            Assert.True(cuda.Code == 0, cuda.Err); // a machine with CUDA: auto took it, and cuda works
            return;
        }
        // No CUDA here: auto fell back to the CPU and said why; cuda is one line naming the library ONNX Runtime missed.
        Assert.Equal("CPUExecutionProvider", provider);
        var why = json.GetProperty("cuda_unavailable").GetString()!;
        Assert.Contains("CUDA cannot be used on this machine", why);
        OneLineError(cuda, "--device cuda", why);
        Assert.Matches(@"lib\w+\.so[.\d]*: cannot open shared object file", why);
    }

    [Fact]
    public void ModelFilesThatCannotBeRead_AreOneLineErrors()
    {
        var (model, v, dir) = Trained();
        // (the tests run as root, for whom chmod 000 changes nothing; a folder where a file should be cannot be read by anyone)
        File.Delete(Path.Combine(model, "reconstruction.onnx"));
        Directory.CreateDirectory(Path.Combine(model, "reconstruction.onnx"));
        OneLineError(Run("pipeline-infer", "info", "--model", model), $"cannot read {Path.Combine(model, "reconstruction.onnx")}: it is a folder, not a file");
        File.Delete(Path.Combine(model, ModelFolder.ManifestFileName));
        Directory.CreateDirectory(Path.Combine(model, ModelFolder.ManifestFileName));
        OneLineError(Run("pipeline-infer", "activations", "--model", model, "--input", v, "--out", Path.Combine(dir, "H.npy")),
            $"cannot read {Path.Combine(model, ModelFolder.ManifestFileName)}: it is a folder, not a file");
    }

    [Fact]
    public void ModelFilesOnnxRuntimeRefuses_AreOneLineErrors()
    {
        var (model, v, dir) = Trained();
        foreach (var (name, bytes) in new (string, byte[])[]
        {
            ("random bytes", RandomNumberGenerator.GetBytes(4096)),
            ("truncated", File.ReadAllBytes(Path.Combine(model, "model.onnx"))[..300]),
        })
        {
            // a careless copy that even updated the hash: ONNX Runtime is what refuses it
            var copy = Path.Combine(dir, name.Replace(' ', '-'));
            Directory.CreateDirectory(copy);
            foreach (var file in Directory.GetFiles(model)) File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
            File.WriteAllBytes(Path.Combine(copy, "model.onnx"), bytes);
            var manifestPath = Path.Combine(copy, ModelFolder.ManifestFileName);
            var manifest = ModelFolder.FromJson(File.ReadAllText(manifestPath), manifestPath);
            File.WriteAllText(manifestPath, ModelFolder.ToJson(manifest with
            {
                Files = new Dictionary<string, string>(manifest.Files!) { ["model.onnx"] = Convert.ToHexStringLower(SHA256.HashData(bytes)) },
            }));
            var r = Run("pipeline-infer", "activations", "--model", copy, "--input", v, "--out", Path.Combine(dir, "H.npy"));
            OneLineError(r, Path.Combine(copy, "model.onnx"), "(InvalidProtobuf)");
            Assert.DoesNotContain("   at ", r.Err);
        }
    }

    [Fact]
    public void Training_OnCudaWithoutCuda_IsOneLine_AndWritesNothing()
    {
        var dir = TestData.TempDirectory();
        var data = Path.Combine(dir, "data");
        var synth = Run("pipeline-train", "synth", "machine", "--out", data, "--machines", "1", "--train", "2", "--test-normal", "1", "--anomalies", "0", "--seconds", "1", "--quiet");
        Assert.True(synth.Code == 0, synth.Err);
        var model = Path.Combine(dir, "ae");
        OneLineError(Run("pipeline-train", "anomaly", "--data", data, "--out", model, "--epochs", "1", "--device", "cuda"),
            "--device cuda", "LibTorch sees no CUDA device", "--device cpu");
        Assert.False(Directory.Exists(model));
        Assert.False(File.Exists(model + ".checkpoint"));
        OneLineError(Run("pipeline-train", "anomaly", "--data", data, "--out", model, "--device", "gpu"), "--device must be cpu, cuda or auto, got 'gpu'");
        // every training command: the ones on LibTorch and the ones on the CPU kernels alike
        NpyFile.Write(Path.Combine(dir, "V.npy"), TestData.Planted(6, 8, rank: 2, seed: 1).V);
        foreach (var command in new[] { new[] { "nmf" }, ["decompose"], ["decompose", "--trainer", "logadam"] })
            OneLineError(Run("pipeline-train", [.. command, "--input", Path.Combine(dir, "V.npy"), "--out", model, "--device", "cuda"]), "--device cuda", "LibTorch sees no CUDA device");
        foreach (var method in new[] { "em", "gradient" })
            OneLineError(Run("pipeline-train", "gmm", "--input", Path.Combine(dir, "V.npy"), "--out", model, "--method", method, "--device", "cuda"), "--device cuda", "LibTorch sees no CUDA device");
        OneLineError(Run("pipeline-train", "vae", "--input", Path.Combine(dir, "V.npy"), "--out", model, "--device", "cuda"), "--device cuda", "LibTorch sees no CUDA device");
        // --device belongs to the commands that train; --threads is bounded (thousands of threads exhaust the process table)
        OneLineError(Run("pipeline-train", "features", "--input", Path.Combine(data, "train_normal"), "--out", Path.Combine(dir, "f"), "--device", "cuda"), "'--device'");
        OneLineError(Run("pipeline-train", "nmf", "--input", Path.Combine(dir, "V.npy"), "--out", model, "--threads", "100000"), "threads must be at most");
        OneLineError(Run("pipeline-train", "nmf", "--input", Path.Combine(dir, "V.npy"), "--out", model, "--threads", "abc"), "--threads takes a whole number", "'abc'");
        Assert.False(Directory.Exists(model));
    }
}
