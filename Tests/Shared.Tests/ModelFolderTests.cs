using Pipeline.Shared.Errors;
using Pipeline.Shared.Files;
using Pipeline.Shared.Manifest;
using Pipeline.Tests;

namespace Pipeline.Shared.Tests;

public class ModelFolderTests
{
    static ModelManifest Manifest(string name = "m") => new()
    {
        Kind = "nmf",
        Name = name,
        Producer = "tests",
        Graphs = [new GraphSpec("activations", "model.onnx", [new TensorSpec("V", "float32", ["4", "frames"], "data")], []), new GraphSpec("reconstruction", "model.onnx", [], [])],
        Decomposition = new DecompositionInfo(4, 2, 1, 1e-12, 10, "layout"),
    };

    static string Write(ModelManifest manifest, byte[]? graph = null)
    {
        var dir = Path.Combine(TestData.TempDirectory(), "model");
        ModelFolder.Write(dir, manifest, new Dictionary<string, byte[]> { ["model.onnx"] = graph ?? [1, 2, 3] });
        return dir;
    }

    [Fact]
    public void ModelFolder_WriteThenRead_RoundTripsManifestWithHashes()
    {
        var dir = Write(Manifest());
        var read = ModelFolder.Read(dir);
        Assert.Equal("nmf", read.Kind);
        Assert.Equal(ModelFolder.EmbeddedJson(Manifest()), ModelFolder.EmbeddedJson(read));
        // SHA-256 of the bytes 01 02 03.
        Assert.Equal("039058c6f2c0cb492c533b0a4d14ef77cc0f78abccced5287d84a1a2011cfb81", read.Files!["model.onnx"]);
        Assert.Equal(["manifest.json", "model.onnx"], Directory.GetFiles(dir).Select(p => Path.GetFileName(p)!).Order().ToArray());
    }

    [Fact]
    public void ModelFolder_TamperedOrMissingFiles_AreContractErrors()
    {
        var dir = Write(Manifest());
        File.WriteAllBytes(Path.Combine(dir, "model.onnx"), [1, 2, 4]);
        Assert.Contains("do not match the manifest", Assert.Throws<ModelContractException>(() => ModelFolder.Read(dir)).Message);

        File.Delete(Path.Combine(dir, "model.onnx"));
        Assert.Contains("missing", Assert.Throws<ModelContractException>(() => ModelFolder.Read(dir)).Message);

        File.Delete(Path.Combine(dir, ModelFolder.ManifestFileName));
        Assert.Contains("no manifest.json", Assert.Throws<ModelContractException>(() => ModelFolder.Read(dir)).Message);

        Assert.Contains("not found", Assert.Throws<ModelContractException>(() => ModelFolder.Read(Path.Combine(dir, "nope"))).Message);
    }

    [Fact]
    public void Manifest_WithValuesNoConsumerCanUse_IsRefusedWhereverItIsRead_ListingEveryProblem()
    {
        // info used to pass these, and score or activations then crashed or refused them one at a time
        var frontEnd = Audio.FrontEndConfig.Preset("dcase-logmel");
        var bad = Manifest() with
        {
            Decomposition = new DecompositionInfo(4, 2, 1, 1e-12, -3, "layout"),
            Anomaly = new AnomalyScoring("median", -1, double.NaN, "rule"),
            FrontEnd = frontEnd with { HopLength = 0, SampleRate = int.MaxValue },
        };
        var e = Assert.Throws<ModelContractException>(() => ModelFolder.FromJson(ModelFolder.ToJson(bad), "manifest.json"));
        Assert.StartsWith("manifest.json: invalid manifest: ", e.Message);
        foreach (var problem in new[] { "hop_length must be > 0 (got 0)", $"sample rate must lie in [1, 768000] Hz (got {int.MaxValue})", "default iterations must lie in [0, 100000] (got -3)",
                     "unknown aggregation 'median'", "trim must be ≥ 0 frames (got -1)", "the threshold must be finite (got NaN)" })
            Assert.Contains(problem, e.Message);

        // n_fft 3 gives two frequency bins for 64 bands; at n_fft 16, bands between 100 and 900 Hz fall between bins 0 and 1000 Hz
        var tiny = Manifest() with { FrontEnd = frontEnd with { NFft = 3, HopLength = 1 } };
        Assert.Contains("n_mels 64 is more than the 2 frequency bins of n_fft 3",
            Assert.Throws<ModelContractException>(() => ModelFolder.FromJson(ModelFolder.ToJson(tiny), "m")).Message);
        var between = Manifest() with { FrontEnd = ((Audio.LogMelOptions)frontEnd) with { NFft = 16, NMels = 4, FMin = 100, FMax = 900 } };
        Assert.Contains("all 4 mel bands are empty (at n_fft 16 and 16000 Hz no frequency bin falls in them)",
            Assert.Throws<ModelContractException>(() => ModelFolder.FromJson(ModelFolder.ToJson(between), "m")).Message);
        var outside = Manifest() with { Sources = [new SourceSpec("a", 0, 1), new SourceSpec("b", 1, 2)] }; // rank 2
        Assert.Contains("source 'b': components 1..2 lie outside the model's",
            Assert.Throws<ModelContractException>(() => ModelFolder.FromJson(ModelFolder.ToJson(outside), "m")).Message);
        var zero = Manifest() with { FrontEnd = frontEnd with { NFft = 0 } };
        Assert.Contains("n_fft must lie in [2, 1048576] (got 0)", Assert.Throws<ModelContractException>(() => ModelFolder.FromJson(ModelFolder.ToJson(zero), "m")).Message);
        // kind, graphs and sizes must agree: an unknown kind, a missing role, a rank the activation graph contradicts
        var teapot = Manifest() with { Kind = "teapot" };
        Assert.Contains("unknown kind 'teapot'", Assert.Throws<ModelContractException>(() => ModelFolder.FromJson(ModelFolder.ToJson(teapot), "m")).Message);
        var scorerless = Manifest() with { Kind = "gmm", Anomaly = new AnomalyScoring("mean", 0, 1, "given") };
        Assert.Contains("a 'gmm' model needs a 'scorer' graph", Assert.Throws<ModelContractException>(() => ModelFolder.FromJson(ModelFolder.ToJson(scorerless), "m")).Message);
        var sized = Manifest() with
        {
            Graphs = [new GraphSpec("activations", "model.onnx", [new TensorSpec("V", "float32", ["4", "frames"], "V")], [new TensorSpec("H", "float32", ["3", "frames"], "H")]),
                new GraphSpec("reconstruction", "model.onnx", [], [])],
        }; // the manifest's decomposition says features 4, rank 2
        Assert.Contains("decomposition: rank 2 contradicts the activation graph's output (3, frames)",
            Assert.Throws<ModelContractException>(() => ModelFolder.FromJson(ModelFolder.ToJson(sized), "m")).Message);
        var endless = Manifest() with { Decomposition = new DecompositionInfo(4, 2, 1, 1e-12, int.MaxValue, "layout") };
        Assert.Contains($"default iterations must lie in [0, 100000] (got {int.MaxValue})",
            Assert.Throws<ModelContractException>(() => ModelFolder.FromJson(ModelFolder.ToJson(endless), "m")).Message);

        // such a folder is never written by this code...
        var written = Path.Combine(TestData.TempDirectory(), "model");
        Assert.EndsWith("the threshold must be finite (got NaN); nothing was written",
            Assert.Throws<InvalidInputException>(() => ModelFolder.Write(written, bad, new Dictionary<string, byte[]> { ["model.onnx"] = [1] })).Message);
        Assert.False(Directory.Exists(written));
        // ...but one edited by hand is refused when read, as info and every consumer read it
        var dir = Write(Manifest());
        var json = File.ReadAllText(Path.Combine(dir, "manifest.json"));
        var files = System.Text.Json.Nodes.JsonNode.Parse(json)!["files"]!.ToJsonString();
        File.WriteAllText(Path.Combine(dir, "manifest.json"), ModelFolder.ToJson(bad).TrimEnd('}') + ",\"files\":" + files + "}");
        Assert.Contains("invalid manifest", Assert.Throws<ModelContractException>(() => ModelFolder.Read(dir)).Message);
    }

    [Fact]
    public void ModelFolder_UnsupportedOrMalformedManifest_IsContractError()
    {
        var dir = Write(Manifest());
        var path = Path.Combine(dir, ModelFolder.ManifestFileName);
        var json = File.ReadAllText(path);
        File.WriteAllText(path, json.Replace("\"formatVersion\": 1", "\"formatVersion\": 99"));
        Assert.Contains("version 99", Assert.Throws<ModelContractException>(() => ModelFolder.Read(dir)).Message);
        File.WriteAllText(path, json[..(json.Length / 2)]);
        Assert.Contains("not a valid model manifest", Assert.Throws<ModelContractException>(() => ModelFolder.Read(dir)).Message);
    }

    [Fact]
    public void ModelFolder_FailedWrite_LeavesPreviousModelAndNoTemporaries()
    {
        var parent = TestData.TempDirectory();
        var dir = Path.Combine(parent, "model");
        ModelFolder.Write(dir, Manifest("first"), new Dictionary<string, byte[]> { ["model.onnx"] = [9] });
        Assert.Throws<InvalidOperationException>(() => AtomicFile.WriteDirectory(dir, temp =>
        {
            File.WriteAllText(Path.Combine(temp, "model.onnx"), "half");
            throw new InvalidOperationException("killed");
        }));
        Assert.Equal("first", ModelFolder.Read(dir).Name);
        Assert.Equal(["model"], Directory.GetFileSystemEntries(parent).Select(p => Path.GetFileName(p)!).ToArray());
    }

    [Fact]
    public void AtomicFile_FailedWrite_LeavesNothing()
    {
        var dir = TestData.TempDirectory();
        var path = Path.Combine(dir, "out.npy");
        var e = Assert.Throws<OutputWriteException>(() => AtomicFile.Write(path, s => { s.WriteByte(1); throw new IOException("No space left on device : '/x/.out.npy.1.tmp'"); }));
        Assert.Equal($"cannot write {path}: No space left on device", e.Message); // the user's path, the system's reason, no temporary
        Assert.Empty(Directory.GetFileSystemEntries(dir));
    }
}
