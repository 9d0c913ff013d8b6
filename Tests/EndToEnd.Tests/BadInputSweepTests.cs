using System.Collections.Concurrent;
using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;
using Pipeline.Tests;
using static Pipeline.EndToEnd.Tests.Hosts;

namespace Pipeline.EndToEnd.Tests;

/// <summary>
/// Every generated bad input (<see cref="BadInputs"/>: WAV files, .npy files, model folders) through the hosts as a
/// user runs them: each refusal is exit 1 with one "error:" line and no stack trace, no bad input succeeds, and
/// nothing is left in the output folders.
/// </summary>
public class BadInputSweepTests
{
    sealed record Outcome(string Input, string Command, int Code, string Out, string Err);

    static IEnumerable<string> Problems(Outcome o)
    {
        var errors = o.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("error:")).ToList();
        if (o.Code == 0) yield return "succeeded";
        else if (o.Code != 1) yield return $"exit {o.Code}";
        if (o.Err.Contains("   at ") || o.Err.Contains("internal error")) yield return "stack trace or internal error";
        if (errors.Count != 1) yield return $"{errors.Count} error lines";
        if (o.Out.Length > 0) yield return "wrote to standard output";
    }

    [Fact]
    public void TwoHundredBadInputs_AreEachRefusedWithOneLine_AndLeaveNothing()
    {
        var dir = TestData.TempDirectory();
        var output = Path.Combine(dir, "out");
        Directory.CreateDirectory(output);
        // the valid models the bad inputs are given to
        NpyFile.Write(Path.Combine(dir, "V.npy"), TestData.Uniform(6, 20, 1));
        var nmf = Path.Combine(dir, "nmf");
        Assert.Equal(0, Run("pipeline-train", "nmf", "-q", "--input", Path.Combine(dir, "V.npy"), "--rank", "2", "--max-iter", "20", "--out", nmf).Code);
        for (var i = 0; i < 2; i++)
            AudioFile.Write(Path.Combine(dir, "normal", $"n{i}.wav"), new AudioClip(Enumerable.Range(0, 16000).Select(n => 0.2f * MathF.Sin(n * (0.1f + 0.02f * i))).ToArray(), 16000));
        var gmm = Path.Combine(dir, "gmm");
        Assert.Equal(0, Run("pipeline-train", "gmm", "-q", "--input", Path.Combine(dir, "normal"), "--components", "1", "--covariance", "diag", "--out", gmm).Code);

        var wavs = BadInputs.Wavs(Path.Combine(dir, "wav"));
        var npys = BadInputs.Npys(Path.Combine(dir, "npy"), features: 6);
        var models = BadInputs.ModelFolders(Path.Combine(dir, "models"), nmf);
        Assert.True(wavs.Count + npys.Count + models.Count >= 200, $"{wavs.Count + npys.Count + models.Count} inputs");

        var runs = new List<(string Input, string Tool, string[] Args)>();
        foreach (var (name, path) in wavs)
        {
            runs.Add(($"wav {name}", "pipeline-train", ["features", "--input", path, "--out", Path.Combine(output, $"wav-{name}.npy")]));
            runs.Add(($"wav {name}", "pipeline-infer", ["score", "--model", gmm, path]));
        }
        foreach (var (name, path) in npys)
            runs.Add(($"npy {name}", "pipeline-infer", ["activations", "--model", nmf, "--input", path, "--out", Path.Combine(output, $"npy-{name}.npy")]));
        foreach (var (name, path) in models)
        {
            runs.Add(($"model {name}", "pipeline-infer", ["info", "--model", path]));
            runs.Add(($"model {name}", "pipeline-infer", ["activations", "--model", path, "--input", Path.Combine(dir, "V.npy"), "--out", Path.Combine(output, $"model-{name}.npy")]));
        }
        var outcomes = new ConcurrentBag<Outcome>();
        Parallel.ForEach(runs, new ParallelOptions { MaxDegreeOfParallelism = 2 }, run =>
        {
            var (code, stdout, stderr) = Run(run.Tool, run.Args);
            outcomes.Add(new Outcome(run.Input, $"{run.Tool} {run.Args[0]}", code, stdout, stderr));
        });

        var failures = outcomes.SelectMany(o => Problems(o).Select(p => $"{o.Input} ({o.Command}): {p}: {o.Err.Trim().Split('\n')[0]}")).Order().ToList();
        Assert.True(failures.Count == 0, $"{failures.Count} of {outcomes.Count} runs misbehaved:\n{string.Join("\n", failures)}");
        Assert.Empty(Directory.GetFileSystemEntries(output));

        // one batch too: score goes on past every bad file, with one JSON line each
        var batch = Run("pipeline-infer", ["score", "--model", gmm, "--json", .. wavs.Select(w => w.Path), Path.Combine(dir, "normal", "n0.wav")]);
        Assert.Equal(1, batch.Code);
        var lines = batch.Out.Trim().Split('\n');
        Assert.Equal(wavs.Count + 1, lines.Length);
        Assert.Equal(wavs.Count, lines.Count(l => l.Contains("\"error\"")));
        Assert.Contains("\"anomaly\"", lines[^1]);
        Assert.DoesNotContain("   at ", batch.Err);
    }
}
