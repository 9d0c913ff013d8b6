using Pipeline.Shared.Audio;
using Pipeline.Shared.Manifest;
using Pipeline.Tests;
using static Pipeline.EndToEnd.Tests.Hosts;

namespace Pipeline.EndToEnd.Tests;

/// <summary>Thresholds hold at serving: set on the scores the exported graph gives, never non-finite.</summary>
public class CalibrationTests
{
    [Theory]
    [InlineData("em")]
    [InlineData("gradient")]
    public void MixtureOnSilentFiles_ScoresItsOwnTrainingFilesAsNormal_WithAFiniteThreshold(string method)
    {
        // two all-zero 1 s files: every frame is the same, so every score is too, and the threshold sits exactly on it
        var dir = TestData.TempDirectory();
        for (var i = 0; i < 2; i++) AudioFile.Write(Path.Combine(dir, "data", $"silent{i}.wav"), new AudioClip(new float[16000], 16000));
        var model = Path.Combine(dir, "gmm");
        var train = Run("pipeline-train", "gmm", "--input", Path.Combine(dir, "data"), "--components", "1", "--covariance", "diag", "--method", method, "--out", model);
        Assert.True(train.Code == 0, train.Err);
        var scoring = ModelFolder.Read(model).Anomaly!;
        Assert.True(double.IsFinite(scoring.Threshold), $"threshold {scoring.Threshold}");
        Assert.Contains("scored by the exported graph", scoring.ThresholdRule);
        Assert.Single(train.Err.Split('\n'), l => l.StartsWith("warning: dimensions 0–63 of 64 are constant"));

        var score = Run("pipeline-infer", "score", "--model", model, Path.Combine(dir, "data"), "--json");
        Assert.True(score.Code == 0, score.Err);
        var lines = score.Out.Trim().Split('\n');
        Assert.Equal(2, lines.Length);
        Assert.All(lines, l => Assert.Contains("\"anomaly\":false", l));
    }
}
