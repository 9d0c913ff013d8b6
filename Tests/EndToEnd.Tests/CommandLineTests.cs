using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Manifest;
using Pipeline.Tests;
using static Pipeline.EndToEnd.Tests.Hosts;

namespace Pipeline.EndToEnd.Tests;

/// <summary>The two hosts run as processes, the way a user runs them after ./run setup.</summary>
public class CommandLineTests
{
    [Fact]
    public void TrainThenInfer_FromNpyToNpy()
    {
        var dir = TestData.TempDirectory();
        var (v, _, _) = TestData.Planted(30, 80, rank: 4, seed: 1);
        var (v2, _, _) = TestData.Planted(30, 25, rank: 4, seed: 1);
        NpyFile.Write(Path.Combine(dir, "V.npy"), v);
        NpyFile.Write(Path.Combine(dir, "V2.npy"), v2);
        var model = Path.Combine(dir, "models", "nmf-demo");

        var train = Run("pipeline-train", "nmf", "--input", Path.Combine(dir, "V.npy"), "--rank", "4", "--beta", "1", "--out", model,
            "--max-iter", "300", "--iterations", "300", "--w-out", Path.Combine(dir, "W.npy"));
        Assert.True(train.Code == 0, train.Err);
        Assert.Contains("iteration", train.Err);
        var manifest = ModelFolder.Read(model);
        Assert.Equal(("nmf", "nmf-demo", 4, 1.0), (manifest.Kind, manifest.Name, manifest.Decomposition!.Rank, manifest.Decomposition.Beta));
        Assert.Equal([30, 80], manifest.Training!.InputShape);

        var infer = Run("pipeline-infer", "activations", "--model", model, "--input", Path.Combine(dir, "V2.npy"),
            "--out", Path.Combine(dir, "H2.npy"), "--reconstruction-out", Path.Combine(dir, "R2.npy"));
        Assert.True(infer.Code == 0, infer.Err);
        Assert.Equal([4, 25], NpyFile.Read(Path.Combine(dir, "H2.npy")).Shape);
        // V2 lies in the span of the planted templates, which the fit has learned: it is reconstructed closely.
        var error = TestData.MaxRelativeError(NpyFile.Read(Path.Combine(dir, "R2.npy")).Data, v2.Data);
        Assert.True(error < 0.1, $"reconstruction error {error}");

        var rec = Run("pipeline-infer", "reconstruct", "--model", model, "--input", Path.Combine(dir, "H2.npy"), "--out", Path.Combine(dir, "R3.npy"));
        Assert.True(rec.Code == 0, rec.Err);
        Assert.True(TestData.MaxRelativeError(NpyFile.Read(Path.Combine(dir, "R3.npy")).Data, NpyFile.Read(Path.Combine(dir, "R2.npy")).Data) < 1e-5);

        var info = Run("pipeline-infer", "info", "--model", model);
        Assert.True(info.Code == 0, info.Err);
        Assert.Contains("\"kind\": \"nmf\"", info.Out);
    }

    [Fact]
    public void BadInput_OneLineError_ExitOne_NothingWritten()
    {
        var dir = TestData.TempDirectory();
        var negative = TestData.Uniform(6, 8, 2);
        negative[2, 2] = -1;
        NpyFile.Write(Path.Combine(dir, "neg.npy"), negative);
        File.WriteAllText(Path.Combine(dir, "text.npy"), "not numpy");
        NpyFile.Write(Path.Combine(dir, "ok.npy"), TestData.Uniform(6, 8, 3));
        var model = Path.Combine(dir, "model");

        void ExpectUserError((int Code, string Out, string Err) r, string fragment)
        {
            Assert.Equal(1, r.Code);
            var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("error:")).ToArray();
            Assert.Single(lines);
            Assert.Contains(fragment, lines[0]);
            Assert.DoesNotContain("   at ", r.Err);
        }

        ExpectUserError(Run("pipeline-train", "nmf", "-q", "--input", Path.Combine(dir, "neg.npy"), "--rank", "2", "--out", model), "negative value");
        ExpectUserError(Run("pipeline-train", "nmf", "-q", "--input", Path.Combine(dir, "text.npy"), "--rank", "2", "--out", model), "not a .npy file");
        ExpectUserError(Run("pipeline-train", "nmf", "-q", "--input", Path.Combine(dir, "ok.npy"), "--rank", "9", "--out", model), "larger than both");
        ExpectUserError(Run("pipeline-train", "nmf", "-q", "--input", Path.Combine(dir, "ok.npy"), "--rank", "0", "--out", model), "rank must be");
        Assert.False(Directory.Exists(model));

        Assert.Equal(0, Run("pipeline-train", "nmf", "-q", "--input", Path.Combine(dir, "ok.npy"), "--rank", "2", "--out", model, "--beta", "2").Code);
        var h = Path.Combine(dir, "H.npy");
        NpyFile.Write(Path.Combine(dir, "wide.npy"), TestData.Uniform(7, 8, 3));
        ExpectUserError(Run("pipeline-infer", "activations", "-q", "--model", model, "--input", Path.Combine(dir, "wide.npy"), "--out", h), "expects (6, frames)");
        ExpectUserError(Run("pipeline-infer", "activations", "-q", "--model", Path.Combine(dir, "nope"), "--input", Path.Combine(dir, "ok.npy"), "--out", h), "model folder not found");
        File.AppendAllText(Path.Combine(model, "model.onnx"), "x");
        ExpectUserError(Run("pipeline-infer", "activations", "-q", "--model", model, "--input", Path.Combine(dir, "ok.npy"), "--out", h), "do not match the manifest");
        Assert.False(File.Exists(h));
        Assert.Empty(Directory.GetFiles(dir, "*.tmp"));
    }

    [Fact]
    public void Features_ForAFileAndForADirectory()
    {
        var dir = TestData.TempDirectory();
        for (var i = 0; i < 3; i++)
        {
            var tone = Enumerable.Range(0, 8000).Select(n => (float)(0.3 * Math.Sin(2 * Math.PI * (200 + 150 * i) * n / 16000))).ToArray();
            AudioFile.Write(Path.Combine(dir, "audio", i == 2 ? "sub" : "", $"clip{i}.wav"), new AudioClip(tone, 16000));
        }
        var one = Run("pipeline-train", "features", "--input", Path.Combine(dir, "audio", "clip0.wav"), "--preset", "dcase-logmel", "--out", Path.Combine(dir, "clip0.npy"));
        Assert.True(one.Code == 0, one.Err);
        Assert.Equal([51, 1280], NpyFile.Read(Path.Combine(dir, "clip0.npy")).Shape);

        var many = Run("pipeline-train", "features", "--input", Path.Combine(dir, "audio"), "--preset", "vae-mcep", "--order", "12", "--out", Path.Combine(dir, "mcep"));
        Assert.True(many.Code == 0, many.Err);
        Assert.Equal([51, 12], NpyFile.Read(Path.Combine(dir, "mcep", "sub", "clip2.npy")).Shape);
        var config = FrontEndConfig.FromJson(File.ReadAllText(Path.Combine(dir, "mcep", "frontend.json")));
        Assert.Equal(FrontEndConfig.VaeMelCepstrum with { Order = 12 }, config);

        var bad = Run("pipeline-train", "features", "--input", Path.Combine(dir, "audio"), "--n-fft", "256", "--win-length", "512", "--out", Path.Combine(dir, "bad"));
        Assert.Equal(1, bad.Code);
        Assert.Contains("win_length", bad.Err);
        Assert.DoesNotContain("   at ", bad.Err);
        Assert.False(Directory.Exists(Path.Combine(dir, "bad")));

        // a setting of another feature than the one computed is refused, not ignored
        var foreign = Run("pipeline-train", "features", "--input", Path.Combine(dir, "audio"), "--preset", "stft", "--n-mels", "40", "--out", Path.Combine(dir, "foreign"));
        Assert.Equal(1, foreign.Code);
        Assert.Equal("error: --n-mels applies to Mel, LogMel and Mfcc features, not Magnitude; choose them with --feature or another --preset", foreign.Err.Trim());
        var unknown = Run("pipeline-train", "features", "--input", Path.Combine(dir, "audio"), "--feature", "Chroma", "--out", Path.Combine(dir, "unknown"));
        Assert.Equal(1, unknown.Code);
        Assert.Equal("error: --feature must be Magnitude, Power, Mel, LogMel, Mfcc or MelCepstrum, not 'Chroma'", unknown.Err.Trim());
        var switched = Run("pipeline-train", "features", "--input", Path.Combine(dir, "audio"), "--preset", "stft", "--feature", "Mel", "--n-mels", "40", "--out", Path.Combine(dir, "switched"));
        Assert.True(switched.Code == 0, switched.Err);
        Assert.Equal(new MelSpectrogramOptions { SampleRate = 22050, NFft = 2048, HopLength = 512, NMels = 40 }, FrontEndConfig.FromJson(File.ReadAllText(Path.Combine(dir, "switched", "frontend.json"))));
    }

    [Fact]
    public void SynthTrainScore_FromWavFoldersToATable()
    {
        var dir = TestData.TempDirectory();
        var data = Path.Combine(dir, "machine");
        var synth = Run("pipeline-train", "synth", "machine", "--out", data, "--seed", "2", "--machines", "1", "--train", "3", "--test-normal", "2", "--seconds", "1",
            "--kinds", "clicks,crackle,squeal,whine,speedchange"); // 5 kinds × 3 levels
        Assert.Equal(15, Directory.GetFiles(Path.Combine(data, "test_anomaly")).Length);
        var unknownKind = Run("pipeline-train", "synth", "machine", "--out", Path.Combine(dir, "bad"), "--kinds", "clicks,hum");
        Assert.Equal(1, unknownKind.Code);
        Assert.StartsWith("error: --kinds takes all, or some of bearingclicks,", unknownKind.Err.Trim());
        Assert.EndsWith("not 'hum'", unknownKind.Err.Trim());
        var badLevel = Run("pipeline-train", "synth", "machine", "--out", Path.Combine(dir, "bad"), "--levels", "-10,loud");
        Assert.Equal("error: --levels takes comma-separated numbers such as -20,-10,0, not '-10,loud'", badLevel.Err.Trim());
        var outOfRange = Run("pipeline-train", "synth", "machine", "--out", Path.Combine(dir, "bad"), "--levels", "-10,40");
        Assert.Contains("fault levels must lie in [−60, 20] dB", outOfRange.Err);
        Assert.False(Directory.Exists(Path.Combine(dir, "bad")));
        Assert.True(synth.Code == 0, synth.Err);
        var model = Path.Combine(dir, "ae");
        var train = Run("pipeline-train", "anomaly", "--data", data, "--epochs", "2", "--batch-size", "32", "--n-mels", "16", "--context", "2",
            "--hidden", "32,16,8", "--trim", "10", "--out", model, "--threads", "1", "--state-dict", Path.Combine(dir, "ae.pt"));
        Assert.True(train.Code == 0, train.Err);
        Assert.Contains("AUC", train.Err);
        Assert.Contains("training on the CPU (1 thread)", train.Err); // auto is the CPU here; --threads reached LibTorch
        // PyTorch's format is a zip archive (torch.load reads it; the library's round trip is tested against python3-torch)
        Assert.Equal("PK"u8.ToArray(), File.ReadAllBytes(Path.Combine(dir, "ae.pt"))[..2]);
        foreach (var file in new[] { "evaluation.json", "loss.svg", "roc.svg", "scores.svg" })
            Assert.True(File.Exists(Path.Combine(model, "evaluation", file)), file);
        foreach (var svg in Directory.GetFiles(Path.Combine(model, "evaluation"), "*.svg"))
            Assert.Equal("svg", System.Xml.Linq.XDocument.Load(svg).Root!.Name.LocalName);
        Assert.False(File.Exists(model + ".checkpoint"));

        File.WriteAllText(Path.Combine(data, "test_anomaly", "broken.wav"), "not a wav file");
        var score = Run("pipeline-infer", "score", "--model", model, Path.Combine(data, "test_anomaly"), "--json");
        Assert.Equal(1, score.Code); // one file could not be read: reported, the rest still scored
        var lines = score.Out.Trim().Split('\n');
        Assert.Equal(16, lines.Length);
        Assert.Contains(lines, l => l.Contains("broken.wav") && l.Contains("error"));
        Assert.Equal(15, lines.Count(l => l.Contains("\"score\"")));
        Assert.Contains("broken.wav", score.Err);

        File.Delete(Path.Combine(data, "test_anomaly", "broken.wav"));
        var table = Run("pipeline-infer", "score", "--model", model, Path.Combine(data, "test_normal"));
        Assert.True(table.Code == 0, table.Err);
        Assert.Contains("decision", table.Out);
        Assert.DoesNotContain("training IDs", table.Out);
        // a file of a machine ID the autoencoder never heard: scored like the rest, with a note from the manifest's training IDs
        Assert.Equal(["id_01"], ModelFolder.Read(model).Training!.MachineIds!);
        var otherId = Path.Combine(dir, "id_07_normal_0000.wav");
        File.Copy(Directory.GetFiles(Path.Combine(data, "test_normal"))[0], otherId);
        var otherScore = Run("pipeline-infer", "score", "--model", model, otherId);
        Assert.True(otherScore.Code == 0, otherScore.Err);
        Assert.Contains("machine ID id_07 was not among the training IDs (id_01)", otherScore.Out);
        var framesAlone = Run("pipeline-infer", "score", "--model", model, otherId, "--frames");
        Assert.Equal(1, framesAlone.Code);
        Assert.Contains("--frames adds each file's frame errors to the lines --json writes; add --json", framesAlone.Err);
        // clips too short for any detector's default context are written, with a warning
        var tiny = Run("pipeline-train", "synth", "machine", "--out", Path.Combine(dir, "tiny"), "--machines", "1", "--train", "1", "--test-normal", "1",
            "--seconds", "0.05", "--kinds", "clicks", "--levels", "-10");
        Assert.True(tiny.Code == 0, tiny.Err);
        Assert.Contains("warning: clips of 0.05 s are shorter than the 0.09 s", tiny.Err);

        // the interpolation network on the same data: trained, evaluated per kind and level, exported, scored the same way
        var idnn = Path.Combine(dir, "idnn");
        var interpolation = Run("pipeline-train", "anomaly", "--detector", "idnn", "--data", data, "--epochs", "2", "--batch-size", "32", "--n-mels", "16",
            "--context", "2", "--hidden", "32,16,8", "--trim", "10", "--out", idnn, "--threads", "1");
        Assert.True(interpolation.Code == 0, interpolation.Err);
        Assert.Contains("at -30 dB", interpolation.Err);
        Assert.Contains("whine", interpolation.Err);
        Assert.Equal("anomaly-idnn", ModelFolder.Read(idnn).Kind);
        var idnnScores = Run("pipeline-infer", "score", "--model", idnn, Path.Combine(data, "test_anomaly"), "--json");
        Assert.True(idnnScores.Code == 0, idnnScores.Err);
        Assert.Equal(15, idnnScores.Out.Trim().Split('\n').Count(l => l.Contains("\"score\"")));
        var unknown = Run("pipeline-train", "anomaly", "--detector", "vae", "--data", data, "--out", Path.Combine(dir, "nope"));
        Assert.Equal(1, unknown.Code);
        Assert.Contains("the detector must be ae, idnn, id-classifier or clip-stats (got 'vae')", unknown.Err);
        Assert.False(Directory.Exists(Path.Combine(dir, "nope")));

        // the machine-ID classifier: one ID cannot be told apart from anything, and the error says what to do
        var oneId = Run("pipeline-train", "anomaly", "--detector", "id-classifier", "--data", data, "--out", Path.Combine(dir, "nope"));
        Assert.Equal(1, oneId.Code);
        Assert.Contains("two or more IDs of the machine type", oneId.Err);
        Assert.False(Directory.Exists(Path.Combine(dir, "nope")));
        var twoIds = Path.Combine(dir, "two-ids");
        Assert.Equal(0, Run("pipeline-train", "synth", "machine", "--out", twoIds, "--seed", "3", "--machines", "2", "--train", "3", "--test-normal", "1", "--seconds", "1",
            "--kinds", "clicks,whine", "--levels", "-10").Code);
        var classifierDir = Path.Combine(dir, "id-classifier");
        var badChannels = Run("pipeline-train", "anomaly", "--detector", "id-classifier", "--data", twoIds, "--channels", "16,0", "--out", classifierDir);
        Assert.Contains("--channels takes comma-separated positive widths such as 16,32,64, not '16,0'", badChannels.Err);
        var classifier = Run("pipeline-train", "anomaly", "--detector", "id-classifier", "--data", twoIds, "--epochs", "2", "--batch-size", "32", "--n-mels", "16",
            "--context", "2", "--channels", "4,8", "--trim", "10", "--aggregation", "top-20%", "--out", classifierDir, "--threads", "1");
        Assert.True(classifier.Code == 0, classifier.Err);
        Assert.DoesNotContain("NNPACK", classifier.Err); // LibTorch's per-call warning on processors NNPACK does not support
        var manifest = ModelFolder.Read(classifierDir);
        Assert.Equal(("anomaly-id-classifier", "top-20%"), (manifest.Kind, manifest.Anomaly!.Aggregation));
        Assert.Equal(["id_01", "id_02"], manifest.MachineIds!);
        var classifierScores = Run("pipeline-infer", "score", "--model", classifierDir, Path.Combine(twoIds, "test_anomaly"), "--json");
        Assert.True(classifierScores.Code == 0, classifierScores.Err);
        Assert.Equal(4, classifierScores.Out.Trim().Split('\n').Count(l => l.Contains("\"score\"")));
        // a recording whose name carries no ID: scored against every known ID with a note, or against the one given
        var anonymous = Path.Combine(dir, "recording.wav");
        File.Copy(Directory.GetFiles(Path.Combine(twoIds, "test_normal"))[0], anonymous);
        var noId = Run("pipeline-infer", "score", "--model", classifierDir, anonymous);
        Assert.True(noId.Code == 0, noId.Err);
        Assert.Contains("no machine ID given or in the name", noId.Out);
        var given = Run("pipeline-infer", "score", "--model", classifierDir, "--machine-id", "ID_02", anonymous); // as the names are read: any case
        Assert.True(given.Code == 0, given.Err);
        Assert.DoesNotContain("machine ID", given.Out);
        Assert.Contains("--machine-id applies to models that score against machine IDs", Run("pipeline-infer", "score", "--model", idnn, "--machine-id", "id_02", anonymous).Err);
        Assert.Contains("not 'machine2'", Run("pipeline-infer", "score", "--model", classifierDir, "--machine-id", "machine2", anonymous).Err);

        // clip statistics: fitted in closed form (training options that do not apply are named), scored by the graph's clip rule
        var statsDir = Path.Combine(dir, "clip-stats");
        var stats = Run("pipeline-train", "anomaly", "--detector", "clip-stats", "--data", twoIds, "--n-mels", "16", "--trim", "10", "--epochs", "3", "--out", statsDir, "--json");
        Assert.True(stats.Code == 0, stats.Err);
        Assert.Contains("--epochs does not apply", stats.Err);
        using (var statsJson = System.Text.Json.JsonDocument.Parse(stats.Out))
        {
            Assert.Equal(0, statsJson.RootElement.GetProperty("epochs").GetInt32());
            Assert.StartsWith("FPR 0.1 on the ", statsJson.RootElement.GetProperty("threshold_rule").GetString());
            Assert.Equal(["id_01", "id_02"], statsJson.RootElement.GetProperty("machine_ids").EnumerateArray().Select(e => e.GetString()));
            Assert.Equal(0, statsJson.RootElement.GetProperty("skipped").GetArrayLength());
        }
        var statsManifest = ModelFolder.Read(statsDir);
        Assert.Equal(("anomaly-clip-statistics", "clip"), (statsManifest.Kind, statsManifest.Anomaly!.Aggregation));
        Assert.Equal(16, statsManifest.Training!.InputShape[1]); // single frames of 16 bands, as the graph reads them
        Assert.False(File.Exists(Path.Combine(statsDir, "evaluation", "loss.svg"))); // no epochs, no loss curve
        using (var evaluation = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(statsDir, "evaluation", "evaluation.json"))))
        {
            // one validation clip places the threshold at its own served score: the report, like pipeline-infer, calls it normal
            var validation = Assert.Single(evaluation.RootElement.GetProperty("clips").EnumerateArray(), c => c.GetProperty("part").GetString() == "validation");
            Assert.Equal(statsManifest.Anomaly.Threshold, validation.GetProperty("score").GetDouble(), 1e-6 * Math.Abs(statsManifest.Anomaly.Threshold));
            Assert.False(validation.GetProperty("decision").GetBoolean());
        }
        Assert.Contains("keep no checkpoint", Run("pipeline-train", "anomaly", "--detector", "clip-stats", "--data", twoIds, "--resume", "--out", Path.Combine(dir, "nope")).Err);
        var statsScores = Run("pipeline-infer", "score", "--model", statsDir, Path.Combine(twoIds, "test_anomaly"), "--json");
        Assert.True(statsScores.Code == 0, statsScores.Err);
        Assert.Equal(4, statsScores.Out.Trim().Split('\n').Count(l => l.Contains("\"score\"")));
        var framed = Run("pipeline-train", "anomaly", "--detector", "clip-stats", "--data", twoIds, "--aggregation", "max", "--out", Path.Combine(dir, "nope"));
        Assert.Equal(1, framed.Code);
        Assert.Contains("clip statistics score whole clips; --aggregation (max) applies to the frame detectors", framed.Err);
    }

    [Fact]
    public void Gmm_OnAMatrixAndOnAudio_ThenScored()
    {
        var dir = TestData.TempDirectory();
        var random = new Random(3);
        var x = Enumerable.Range(0, 400).Select(i => (float)((i % 2 == 0 ? -2 : 3) + 0.5 * (random.NextDouble() + random.NextDouble() - 1))).ToArray();
        NpyFile.Write(Path.Combine(dir, "x.npy"), new NdArray([400], x));
        var fit = Run("pipeline-train", "gmm", "--input", Path.Combine(dir, "x.npy"), "--components", "2", "--covariance", "diag", "--out", Path.Combine(dir, "gmm1"), "--json");
        Assert.True(fit.Code == 0, fit.Err);
        using var summary = System.Text.Json.JsonDocument.Parse(fit.Out);
        Assert.Equal(2, summary.RootElement.GetProperty("components").GetInt32());
        var means = summary.RootElement.GetProperty("means").EnumerateArray().Select(m => m.GetDouble()).Order().ToArray();
        Assert.Equal(-2, means[0], 0.1);
        Assert.Equal(3, means[1], 0.1);
        Assert.True(File.Exists(Path.Combine(dir, "gmm1", "evaluation", "density.svg")));
        Assert.True(File.Exists(Path.Combine(dir, "gmm1", "evaluation", "convergence.png")));
        Assert.Equal("gmm", ModelFolder.Read(Path.Combine(dir, "gmm1")).Kind);

        var data = Path.Combine(dir, "machine");
        Assert.Equal(0, Run("pipeline-train", "synth", "machine", "--out", data, "--machines", "1", "--train", "2", "--test-normal", "1", "--anomalies", "0", "--seconds", "1").Code);
        var audio = Run("pipeline-train", "gmm", "--input", Path.Combine(data, "train_normal"), "--components", "2", "--covariance", "diag", "--method", "gradient", "--steps", "30", "--out", Path.Combine(dir, "gmm2"));
        Assert.True(audio.Code == 0, audio.Err);
        var score = Run("pipeline-infer", "score", "--model", Path.Combine(dir, "gmm2"), Path.Combine(data, "test_normal"), "--json");
        Assert.True(score.Code == 0, score.Err);
        Assert.Contains("\"score\"", score.Out);

        // a float WAV at peak 1e18 beside a normal clip: it was scored NaN and called normal; now it is that file's
        // error, every file still gets its JSON line, and the exit code says one failed
        var mixed = Directory.CreateDirectory(Path.Combine(dir, "mixed")).FullName;
        File.Copy(Directory.GetFiles(Path.Combine(data, "test_normal"))[0], Path.Combine(mixed, "a_normal.wav"));
        AudioFile.Write(Path.Combine(mixed, "b_loud.wav"),
            new AudioClip([.. Enumerable.Range(0, 16000).Select(i => (float)(1e18 * Math.Sin(2 * Math.PI * 1000 * i / 16000)))], 16000), AudioEncoding.Float32);
        var loud = Run("pipeline-infer", "score", "--model", Path.Combine(dir, "gmm2"), mixed, "--json", "--quiet");
        Assert.Equal(1, loud.Code);
        var lines = loud.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(2, lines.Count);
        Assert.True(lines.Single(l => l.GetProperty("file").GetString()!.EndsWith("a_normal.wav")).TryGetProperty("score", out _));
        Assert.Contains("non-finite features", lines.Single(l => l.GetProperty("file").GetString()!.EndsWith("b_loud.wav")).GetProperty("error").GetString());
        Assert.Contains("b_loud.wav: gives non-finite features", Assert.Single(loud.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries)));

        var bad = Run("pipeline-train", "gmm", "--input", Path.Combine(dir, "x.npy"), "--components", "500", "--out", Path.Combine(dir, "gmm3"));
        Assert.Equal(1, bad.Code);
        Assert.Contains("components", bad.Err);
    }

    [Fact]
    public void Vae_OnMelCepstra_ThenScored()
    {
        var dir = TestData.TempDirectory();
        var data = Path.Combine(dir, "machine");
        Assert.Equal(0, Run("pipeline-train", "synth", "machine", "--out", data, "--machines", "1", "--train", "2", "--test-normal", "1", "--anomalies", "0", "--seconds", "1").Code);
        var model = Path.Combine(dir, "vae");
        var train = Run("pipeline-train", "vae", "--input", Path.Combine(data, "train_normal"), "--epochs", "3", "--hidden", "32,16", "--latent", "4",
            "--order", "12", "--batch-size", "32", "--out", model, "--json", "--state-dict", Path.Combine(dir, "vae.safetensors"));
        Assert.True(train.Code == 0, train.Err);
        Assert.Contains("KL", train.Err);
        // safetensors: an 8-byte little-endian header length, then a JSON header naming every tensor as PyTorch does
        var stateDict = File.ReadAllBytes(Path.Combine(dir, "vae.safetensors"));
        var header = System.Text.Json.JsonDocument.Parse(stateDict.AsMemory(8, (int)BitConverter.ToUInt64(stateDict, 0)));
        foreach (var tensor in new[] { "encoder.0.weight", "mean.bias", "log_variance.weight", "decoder.4.bias", "input_mean", "input_std" })
            Assert.True(header.RootElement.TryGetProperty(tensor, out _), tensor);
        using var summary = System.Text.Json.JsonDocument.Parse(train.Out);
        Assert.Equal(3, summary.RootElement.GetProperty("epochs").GetArrayLength());
        Assert.True(summary.RootElement.GetProperty("epochs")[2].GetProperty("kl").GetDouble() >= 0); // lower-case keys, as everywhere
        Assert.False(File.Exists(model + ".checkpoint"), "a finished job leaves no checkpoint");
        var noCheckpoint = Run("pipeline-train", "vae", "--input", Path.Combine(data, "train_normal"), "--resume", "--out", Path.Combine(dir, "vae2"));
        Assert.Equal(1, noCheckpoint.Code);
        Assert.Contains("no checkpoint", noCheckpoint.Err);
        foreach (var file in new[] { "loss.svg", "coefficient.svg", "scatter.svg" })
            Assert.Equal("svg", System.Xml.Linq.XDocument.Load(Path.Combine(model, "evaluation", file)).Root!.Name.LocalName);
        var manifest = ModelFolder.Read(model);
        Assert.Equal(("vae", 12), (manifest.Kind, manifest.FrontEnd!.Dimensions));
        var score = Run("pipeline-infer", "score", "--model", model, Path.Combine(data, "test_normal"));
        Assert.True(score.Code == 0, score.Err);
        Assert.Contains("id_01_normal", score.Out);
    }

    [Fact]
    public void Separation_TrainThenSeparateAMixture()
    {
        var dir = TestData.TempDirectory();
        float[] Tone(double f0, double seconds) => Enumerable.Range(0, (int)(seconds * 8000))
            .Select(i => (float)(0.2 * (Math.Sin(2 * Math.PI * f0 * i / 8000) + 0.4 * Math.Sin(4 * Math.PI * f0 * i / 8000)))).ToArray();
        AudioFile.Write(Path.Combine(dir, "low.wav"), new AudioClip(Tone(200, 2), 8000));
        AudioFile.Write(Path.Combine(dir, "high.wav"), new AudioClip(Tone(510, 2), 8000));
        var mix = Tone(200, 1).Zip(Tone(510, 1), (a, b) => a + b).ToArray();
        AudioFile.Write(Path.Combine(dir, "mix.wav"), new AudioClip(mix, 8000), AudioEncoding.Float32);
        var model = Path.Combine(dir, "duet");
        var train = Run("pipeline-train", "separation", "--source", $"low={Path.Combine(dir, "low.wav")}", "--source", $"high={Path.Combine(dir, "high.wav")}",
            "--rank", "2", "--sample-rate", "8000", "--n-fft", "512", "--hop-length", "128", "--iterations", "50", "--out", model);
        Assert.True(train.Code == 0, train.Err);
        Assert.Equal(["low", "high"], ModelFolder.Read(model).Sources!.Select(s => s.Name));
        Assert.True(new FileInfo(Path.Combine(model, "evaluation", "W.png")).Length > 1000, "the templates' picture");
        var separate = Run("pipeline-infer", "separate", "--model", model, "--input", Path.Combine(dir, "mix.wav"), "--out", Path.Combine(dir, "parts"));
        Assert.True(separate.Code == 0, separate.Err);
        var low = AudioFile.Read(Path.Combine(dir, "parts", "low.wav"));
        Assert.Equal(8000, low.Samples.Length);
        var truth = Tone(200, 1);
        var dot = low.Samples.Zip(truth, (a, b) => (double)a * b).Sum();
        var norms = Math.Sqrt(low.Samples.Sum(a => (double)a * a) * truth.Sum(b => (double)b * b));
        Assert.True(dot / norms > 0.9, $"correlation {dot / norms}");
        var bad = Run("pipeline-train", "separation", "--source", "only-one", "--out", Path.Combine(dir, "bad"));
        Assert.Equal(1, bad.Code);
    }

    [Theory]
    [InlineData("nmf", "mu")]
    [InlineData("nmf", "logadam")]
    [InlineData("nmfd", "mu")]
    [InlineData("nmf2d", "mu")]
    [InlineData("plca", "mu")]
    [InlineData("siplca", "mu")]
    [InlineData("siplca2", "mu")]
    [InlineData("nmf", "sparse")]
    [InlineData("nmfd", "sparse")]
    public void Decompose_EveryModel_WritesFactorsPicturesAndModel(string model, string trainer)
    {
        var dir = TestData.TempDirectory();
        var (v, _, _) = TestData.Planted(24, 40, rank: 3, seed: 5);
        NpyFile.Write(Path.Combine(dir, "V.npy"), v);
        var output = Path.Combine(dir, model);
        var run = Run("pipeline-train", "decompose", "--model", model, "--trainer", trainer, "--input", Path.Combine(dir, "V.npy"), "--rank", "3",
            "--window", "4", "--kernel", "2x4", "--max-iter", "30", "--iterations", "10", "--sparseness-h", "0.6", "--out", output);
        Assert.True(run.Code == 0, run.Err);
        Assert.Equal([24, 40], NpyFile.Read(Path.Combine(output, "WH.npy")).Shape);
        foreach (var picture in new[] { "V.png", "W.png", "H.png", "WH.png" })
            Assert.Equal(new byte[] { 137, 80, 78, 71 }, File.ReadAllBytes(Path.Combine(output, "evaluation", picture))[..4]);
        System.Xml.Linq.XDocument.Load(Path.Combine(output, "evaluation", "loss.svg"));
        Assert.Equal(model, ModelFolder.Read(output).Kind);
        var h = Run("pipeline-infer", "info", "--model", output);
        Assert.True(h.Code == 0, h.Err);
    }

    [Fact]
    public void Decompose_VolumetricModels_TakeA3dArray_AndBadCombinationsAreUserErrors()
    {
        var dir = TestData.TempDirectory();
        var volume = new NdArray([5, 6, 7], TestData.Uniform(5, 42, seed: 3).Data);
        NpyFile.Write(Path.Combine(dir, "V3.npy"), volume);
        NpyFile.Write(Path.Combine(dir, "V.npy"), TestData.Uniform(8, 12, seed: 4));
        foreach (var model in new[] { "nmf3d", "siplca3" })
        {
            var output = Path.Combine(dir, model);
            var run = Run("pipeline-train", "decompose", "--model", model, "--kernel", "2x3x4", "--input", Path.Combine(dir, "V3.npy"), "--rank", "2",
                "--max-iter", "10", "--iterations", "5", "--out", output);
            Assert.True(run.Code == 0, run.Err);
            Assert.Equal(model, ModelFolder.Read(output).Kind);
            Assert.Equal([5, 42], NpyFile.Read(Path.Combine(output, "WH.npy")).Shape);
        }
        foreach (var (args, message) in new (string[], string)[]
        {
            (["--model", "nmf3d", "--kernel", "2x3x4", "--input", Path.Combine(dir, "V.npy")], "3-d"),
            (["--model", "nmf", "--input", Path.Combine(dir, "V3.npy")], "matrix"),
            (["--model", "nmfd", "--trainer", "logadam", "--input", Path.Combine(dir, "V.npy")], "plain NMF only"),
            (["--model", "nmf2d", "--kernel", "3y4", "--input", Path.Combine(dir, "V.npy")], "--kernel"),
            (["--model", "nmf", "--trainer", "sparse", "--input", Path.Combine(dir, "V.npy")], "--sparseness"),
            (["--model", "nmf", "--trainer", "sparse", "--sparseness-h", "1.5", "--input", Path.Combine(dir, "V.npy")], "(0, 1)"),
            (["--model", "nmf", "--normalize", "x", "--input", Path.Combine(dir, "V.npy")], "--normalize"),
        })
        {
            var run = Run("pipeline-train", ["decompose", .. args, "--rank", "2", "--out", Path.Combine(dir, "bad")]);
            Assert.Equal(1, run.Code);
            Assert.Contains(message, run.Err);
        }
        Assert.False(Directory.Exists(Path.Combine(dir, "bad"))); // refused before anything was written
    }
}
