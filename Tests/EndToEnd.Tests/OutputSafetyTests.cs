using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Manifest;
using Pipeline.Tests;
using static Pipeline.EndToEnd.Tests.Hosts;

namespace Pipeline.EndToEnd.Tests;

/// <summary>No lost data: outputs checked before the work, written all or none; bad input files listed, or skipped on request.</summary>
public class OutputSafetyTests
{
    static string[] Entries(string dir) => Directory.GetFileSystemEntries(dir).Select(p => Path.GetFileName(p)!).Order(StringComparer.Ordinal).ToArray();

    static string[] Errors(string stderr) => stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("error:")).ToArray();

    static void Tone(string path, double hz, double seconds = 0.5) =>
        AudioFile.Write(path, new AudioClip(Enumerable.Range(0, (int)(16000 * seconds)).Select(n => (float)(0.3 * Math.Sin(2 * Math.PI * hz * n / 16000))).ToArray(), 16000));

    [Fact]
    public void OutNamingAUsersFolder_IsRefusedBeforeTheWork_UnlessForced_InBothHosts()
    {
        var dir = TestData.TempDirectory();
        NpyFile.Write(Path.Combine(dir, "V.npy"), TestData.Uniform(12, 20, 1));
        var precious = Path.Combine(dir, "mine");
        Directory.CreateDirectory(precious);
        File.WriteAllText(Path.Combine(precious, "precious.txt"), "keep me");

        var refused = Run("pipeline-train", "nmf", "-q", "--input", Path.Combine(dir, "V.npy"), "--rank", "2", "--out", precious);
        Assert.Equal(1, refused.Code);
        Assert.Equal([$"error: {precious} exists and is not a model folder (it holds precious.txt); choose another path, or pass --force to replace it"], Errors(refused.Err));
        var synth = Run("pipeline-train", "synth", "machine", "-q", "--out", precious, "--machines", "1", "--train", "1", "--test-normal", "0", "--anomalies", "0", "--seconds", "1");
        Assert.Equal(1, synth.Code);
        Assert.Contains("is not a synthetic data set", synth.Err);
        Assert.Equal(["precious.txt"], Entries(precious));

        // a model folder is replaced by retraining: that is what --out is for
        var model = Path.Combine(dir, "model");
        for (var i = 0; i < 2; i++) Assert.Equal(0, Run("pipeline-train", "nmf", "-q", "--input", Path.Combine(dir, "V.npy"), "--rank", "2", "--out", model).Code);
        Tone(Path.Combine(dir, "mix.wav"), 440);
        var separated = Run("pipeline-infer", "separate", "-q", "--model", model, "--input", Path.Combine(dir, "mix.wav"), "--out", precious);
        Assert.Equal(1, separated.Code);
        Assert.Contains("is not a separated-sources folder", separated.Err);
        Assert.Equal(["precious.txt"], Entries(precious));

        var forced = Run("pipeline-train", "nmf", "-q", "--input", Path.Combine(dir, "V.npy"), "--rank", "2", "--out", precious, "--force");
        Assert.True(forced.Code == 0, forced.Err);
        Assert.Equal("nmf", ModelFolder.Read(precious).Kind);
        Assert.Equal(["V.npy", "mine", "mix.wav", "model"], Entries(dir));
    }

    [Fact]
    public void ExtraOutputs_AreCheckedFirst_AndWrittenAllOrNone()
    {
        var dir = TestData.TempDirectory();
        NpyFile.Write(Path.Combine(dir, "V.npy"), TestData.Uniform(12, 20, 1));
        File.WriteAllText(Path.Combine(dir, "a-file"), "x");
        var model = Path.Combine(dir, "model");
        var wOut = Path.Combine(dir, "a-file", "W.npy");
        var r = Run("pipeline-train", "nmf", "--input", Path.Combine(dir, "V.npy"), "--rank", "2", "--out", model, "--w-out", wOut);
        Assert.Equal(1, r.Code);
        Assert.Equal([$"error: cannot write {wOut}: {Path.Combine(dir, "a-file")} is a file, not a folder"], Errors(r.Err));
        Assert.DoesNotContain("iteration", r.Err); // refused before fitting
        Assert.Equal(["V.npy", "a-file"], Entries(dir));

        // the anomaly recipe checks --out before it reads a clip or trains an epoch
        var data = Path.Combine(dir, "machine");
        Assert.Equal(0, Run("pipeline-train", "synth", "machine", "-q", "--out", data, "--machines", "1", "--train", "2", "--test-normal", "0", "--anomalies", "0", "--seconds", "1").Code);
        var existingFile = Path.Combine(dir, "a-file");
        var anomaly = Run("pipeline-train", "anomaly", "--data", data, "--epochs", "1", "--out", existingFile);
        Assert.Equal(1, anomaly.Code);
        Assert.Equal([$"error: cannot write {existingFile}: a file exists where a folder is wanted (choose another path, or pass --force to replace it)"], Errors(anomaly.Err));
        Assert.DoesNotContain("epoch", anomaly.Err);
        var resume = Run("pipeline-train", "anomaly", "--data", data, "--epochs", "1", "--out", Path.Combine(dir, "ae"), "--resume");
        Assert.Equal(1, resume.Code);
        Assert.Contains($"--resume: there is no checkpoint at {Path.Combine(dir, "ae")}.checkpoint", resume.Err);

        var h = Path.Combine(dir, "H.npy");
        Assert.Equal(0, Run("pipeline-train", "nmf", "-q", "--input", Path.Combine(dir, "V.npy"), "--rank", "2", "--out", model).Code);
        var infer = Run("pipeline-infer", "activations", "--model", model, "--input", Path.Combine(dir, "V.npy"), "--out", h, "--reconstruction-out", "/proc/R.npy");
        Assert.Equal(1, infer.Code);
        Assert.Equal(["error: cannot write /proc/R.npy: files cannot be created there"], Errors(infer.Err));
        Assert.False(File.Exists(h));
        Assert.Empty(Directory.GetFileSystemEntries(dir, ".*"));
    }

    [Fact]
    public void BadAudioFiles_AreAllListed_ExitOne_OrSkippedOnRequest_AndSeveralInputsAreTaken()
    {
        var dir = TestData.TempDirectory();
        var (a, b) = (Path.Combine(dir, "a"), Path.Combine(dir, "b"));
        Tone(Path.Combine(a, "one.wav"), 300);
        Tone(Path.Combine(a, "two.wav"), 500);
        Tone(Path.Combine(b, "three.wav"), 700);
        File.WriteAllText(Path.Combine(a, "broken.wav"), "not audio");
        File.WriteAllBytes(Path.Combine(b, "empty.wav"), []);
        var features = Path.Combine(dir, "features");

        foreach (var command in new[] { new[] { "features", "--out", features }, ["gmm", "--components", "1", "--covariance", "diag", "--out", Path.Combine(dir, "gmm")],
                     ["vae", "--epochs", "1", "--out", Path.Combine(dir, "vae")] })
        {
            var refused = Run("pipeline-train", [.. command, "--input", a, b]);
            Assert.True(refused.Code == 1, refused.Err);
            var errors = Errors(refused.Err);
            Assert.Equal(3, errors.Length);
            Assert.StartsWith($"error: {Path.Combine(a, "broken.wav")}: ", errors[0]);
            Assert.StartsWith($"error: {Path.Combine(b, "empty.wav")}: ", errors[1]);
            Assert.Equal("error: 2 of 5 input files cannot be used; fix or remove them, or pass --skip-bad to leave them out", errors[2]);
            Assert.DoesNotContain("Aggregate", refused.Err);
            Assert.Equal(["a", "b"], Entries(dir));
        }

        var skipped = Run("pipeline-train", "features", "--input", a, Path.Combine(b, "*.wav"), "--skip-bad", "--out", features);
        Assert.True(skipped.Code == 0, skipped.Err);
        Assert.Contains($"warning: skipped {Path.Combine(a, "broken.wav")}", skipped.Err);
        Assert.Contains($"warning: skipped {Path.Combine(b, "empty.wav")}", skipped.Err);
        // names mirror the inputs below the folder they share
        Assert.Equal([".pipeline-output.json", "a", "b", "frontend.json"], Entries(features));
        Assert.Equal(["one.npy", "two.npy"], Entries(Path.Combine(features, "a")));
        Assert.Equal(["three.npy"], Entries(Path.Combine(features, "b")));

        var gmm = Run("pipeline-train", "gmm", "-q", "--input", Path.Combine(a, "one.wav"), Path.Combine(b, "three.wav"), "--components", "1", "--covariance", "diag", "--out", Path.Combine(dir, "gmm"));
        Assert.True(gmm.Code == 0, gmm.Err);
        // two 0.5 s files of 51 log-mel frames each, as the features command gives (Features_ForAFileAndForADirectory)
        Assert.Equal([102, 64], ModelFolder.Read(Path.Combine(dir, "gmm")).Training!.InputShape);
    }

    [Fact]
    public void OutputsNeverOverlapInputsOrEachOther_AndAnEarlierOutputIsReplacedOnlyWhenItHoldsNothingElse()
    {
        var dir = TestData.TempDirectory();
        var v = Path.Combine(dir, "V.npy");
        NpyFile.Write(v, TestData.Uniform(12, 20, 1));
        string Nmf(params string[] extra) => Run("pipeline-train", ["nmf", "-q", "--input", v, "--rank", "2", "--max-iter", "5", .. extra]) is var r && r.Code == 0 ? "ok" : Errors(r.Err).Single();

        Assert.Equal("error: cannot write '': the path is empty", Nmf("--out", ""));
        Assert.Equal([$"error: a path given on the command line is empty (an unset shell variable?)"], Errors(Run("pipeline-train", "nmf", "-q", "--input", "", "--out", Path.Combine(dir, "x")).Err));
        var model = Path.Combine(dir, "m");
        Assert.Equal($"error: cannot write {Path.Combine(dir, "W.npy")}: {Path.Combine(dir, "W.npy")} is written by this command too", Nmf("--out", model, "--w-out", Path.Combine(dir, "W.npy"), "--h-out", Path.Combine(dir, "W.npy")));
        Assert.Equal($"error: cannot write {Path.Combine(model, "H.npy")}: it overlaps {model}, also written by this command (an output folder is replaced as a whole)", Nmf("--out", model, "--h-out", Path.Combine(model, "H.npy")));
        Assert.Equal($"error: cannot write {dir}: it holds the input {v}, which replacing it would delete", Nmf("--out", dir, "--force"));
        Assert.False(Directory.Exists(model));

        Assert.Equal("ok", Nmf("--out", model));
        Assert.Equal("ok", Nmf("--out", model)); // retraining replaces the earlier model
        File.WriteAllText(Path.Combine(model, "notes.txt"), "mine");
        Assert.Equal($"error: {model} exists and holds files this output did not write (notes.txt); choose another path, or pass --force to replace it", Nmf("--out", model));
        Assert.Equal("mine", File.ReadAllText(Path.Combine(model, "notes.txt")));

        Directory.CreateDirectory(Path.Combine(model, "mine"));
        File.Delete(Path.Combine(model, "notes.txt"));
        Assert.Equal($"error: {model} exists and holds files this output did not write (mine/); choose another path, or pass --force to replace it", Nmf("--out", model));

        var infer = Run("pipeline-infer", "activations", "--model", model, "--input", v, "--out", v);
        Assert.Equal([$"error: cannot write {v}: it is also an input of this command"], Errors(infer.Err));
        var link = Path.Combine(dir, "link.npy");
        File.CreateSymbolicLink(link, v);
        var viaLink = Run("pipeline-infer", "activations", "--model", model, "--input", link, "--out", v);
        Assert.Equal([$"error: cannot write {v}: it is also an input of this command"], Errors(viaLink.Err));
        var intoModel = Run("pipeline-infer", "activations", "--model", model, "--input", v, "--out", Path.Combine(model, "manifest.json"));
        Assert.Equal([$"error: cannot write {Path.Combine(model, "manifest.json")}: it lies inside the input {model} and exists: replacing it could delete what this command reads"], Errors(intoModel.Err));
        File.WriteAllText(Path.Combine(dir, "a-file"), "x");
        var cache = Run("pipeline-train", "features", "--input", Path.Combine(dir, "nothing.wav"), "--out", Path.Combine(dir, "f.npy"), "--cache", Path.Combine(dir, "a-file"));
        Assert.Equal([$"error: cannot write {Path.Combine(dir, "a-file")}: a file exists where a folder is wanted"], Errors(cache.Err));
    }

    [Fact]
    public void Anomaly_ListsEveryBadOrTooShortFile_TrainAndTest_BeforeTraining()
    {
        var dir = TestData.TempDirectory();
        var data = Path.Combine(dir, "machine");
        for (var run = 0; run < 2; run++) // a second run replaces the first: a data set is an output like any other
            Assert.Equal(0, Run("pipeline-train", "synth", "machine", "-q", "--out", data, "--machines", "1", "--train", "4", "--test-normal", "1", "--anomalies", "0", "--seconds", "1").Code);
        File.WriteAllText(Path.Combine(data, "test_normal", "broken.wav"), "not audio");
        Tone(Path.Combine(data, "train_normal", "short.wav"), 300, seconds: 0.04); // 640 samples: 5 frames, the context needs 6
        var model = Path.Combine(dir, "ae");
        var r = Run("pipeline-train", "anomaly", "--data", data, "--epochs", "1", "--batch-size", "16", "--n-mels", "16", "--context", "6", "--hidden", "16,8", "--out", model);
        Assert.Equal(1, r.Code);
        var errors = Errors(r.Err);
        Assert.Equal(3, errors.Length);
        Assert.Contains(errors, e => e.StartsWith($"error: {Path.Combine(data, "train_normal", "short.wav")}: is too short: it gives 5 frames,"));
        Assert.Contains(errors, e => e.StartsWith($"error: {Path.Combine(data, "test_normal", "broken.wav")}: "));
        Assert.Equal("error: 2 of 7 input files cannot be used; fix or remove them, or pass --skip-bad to leave them out", errors[^1]);
        Assert.DoesNotContain("epoch", r.Err);
        Assert.False(File.Exists(model + ".checkpoint"));

        var skipped = Run("pipeline-train", "anomaly", "--data", data, "--epochs", "1", "--batch-size", "16", "--n-mels", "16", "--context", "6", "--hidden", "16,8", "--out", model, "--skip-bad");
        Assert.True(skipped.Code == 0, skipped.Err);
        Assert.Equal(2, skipped.Err.Split('\n').Count(l => l.StartsWith("warning: skipped ")));
    }

    [Fact]
    public void EveryBadSource_AndAGlobInAFolderName_IsReportedAtOnce()
    {
        var dir = TestData.TempDirectory();
        File.WriteAllText(Path.Combine(dir, "bad.wav"), "not audio");
        var r = Run("pipeline-train", "separation", "--source", $"a={Path.Combine(dir, "bad.wav")}", "--source", $"b={Path.Combine(dir, "missing.wav")}", "--source", "nameless",
            "--out", Path.Combine(dir, "m"));
        Assert.Equal(1, r.Code);
        var errors = Errors(r.Err);
        Assert.Equal(4, errors.Length);
        Assert.StartsWith($"error: {Path.Combine(dir, "bad.wav")}: ", errors[0]);
        Assert.Equal($"error: {Path.Combine(dir, "missing.wav")}: no such file", errors[1]);
        Assert.Equal("error: --source takes NAME=FILE, not 'nameless'", errors[2]);
        Assert.Equal("error: 3 of 3 sources cannot be used", errors[3]);

        var glob = Run("pipeline-train", "features", "--input", Path.Combine(dir, "*", "x.wav"), "--out", Path.Combine(dir, "f"));
        Assert.Equal([$"error: {Path.Combine(dir, "*", "x.wav")}: wildcards are expanded in the file name only ('data/train/*.wav'), not in folder names; name the folder, which is searched recursively"], Errors(glob.Err));
        Assert.Equal(["bad.wav"], Entries(dir));
    }
}
