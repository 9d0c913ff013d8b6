using System.Text.RegularExpressions;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Errors;
using Pipeline.Shared.Scoring;

namespace Pipeline.Training.Anomaly;

/// <summary>One recording with its label from the data set's layout.</summary>
/// <param name="MachineId">"id_01" when the name carries one, else "all".</param>
/// <param name="Kind">For anomalies whose name says what kind they are (the synthetic set's), e.g. "clicks".</param>
/// <param name="Level">For anomalies whose name says at what level the fault was mixed in: "-10 dB" (or "severity 2" in older sets).</param>
public sealed record LabeledClip(string Path, string MachineId, bool IsAnomaly, string? Kind, string? Level = null);

/// <summary>
/// An anomalous-sound data set on disk, in one of the two common layouts:
/// ToyADMOS as the DCASE 2020 Task 2 baseline reads it (<c>train_normal/</c>, <c>test_normal/</c>, <c>test_anomaly/</c>) or DCASE
/// (<c>train/normal_*.wav</c>, <c>test/normal_*.wav</c>, <c>test/anomaly_*.wav</c>). Labels come from the
/// folders (ToyADMOS) or the file-name prefixes (DCASE); machine IDs from <c>id_NN</c> in the names.
/// </summary>
public sealed partial record AnomalyDataset(string Directory, string Layout, IReadOnlyList<LabeledClip> Train, IReadOnlyList<LabeledClip> Test)
{
    [GeneratedRegex(@"anomaly_([a-z]+)(?:_(?:s(\d)|(-?\d+(?:\.\d+)?)db))?")]
    private static partial Regex KindPattern();

    /// <summary>Reads the layout under <paramref name="directory"/>; the test part may be absent.</summary>
    public static AnomalyDataset Open(string directory)
    {
        if (string.IsNullOrWhiteSpace(directory)) throw new InvalidOptionException("the data folder's path is empty");
        if (!System.IO.Directory.Exists(directory)) throw new InvalidFileException(directory, "no such data directory");
        string Sub(string name) => Path.Combine(directory, name);
        if (System.IO.Directory.Exists(Sub("train_normal")))
        {
            var train = Clips(Sub("train_normal"), anomaly: false);
            var test = new List<LabeledClip>();
            if (System.IO.Directory.Exists(Sub("test_normal"))) test.AddRange(Clips(Sub("test_normal"), anomaly: false));
            if (System.IO.Directory.Exists(Sub("test_anomaly"))) test.AddRange(Clips(Sub("test_anomaly"), anomaly: true));
            return Checked(new AnomalyDataset(directory, "toyadmos", train, test));
        }
        if (System.IO.Directory.Exists(Sub("train")))
        {
            var train = Clips(Sub("train"), anomaly: null);
            if (train.Any(c => c.IsAnomaly))
                throw new InvalidFileException(Sub("train"), "holds anomaly_* files; training uses normal sounds only");
            var test = System.IO.Directory.Exists(Sub("test")) ? Clips(Sub("test"), anomaly: null) : [];
            return Checked(new AnomalyDataset(directory, "dcase", train, test));
        }
        throw new InvalidFileException(directory,
            "is neither a ToyADMOS layout (train_normal/, test_normal/, test_anomaly/) nor a DCASE one (train/normal_*.wav, test/normal_*.wav, test/anomaly_*.wav)");
    }

    static AnomalyDataset Checked(AnomalyDataset set)
    {
        if (set.Train.Count == 0) throw new InvalidFileException(set.Directory, "has no training clips");
        return set;
    }

    /// <summary>
    /// The fault kind and level a synthetic anomaly's file name carries: <c>id_01_anomaly_clicks_-20db_0000.wav</c> →
    /// ("clicks", "-20 dB"), <c>..._rattle_s2_...</c> → ("rattle", "severity 2"); nulls where the name says nothing.
    /// </summary>
    public static (string? Kind, string? Level) Fault(string path)
    {
        if (KindPattern().Match(Path.GetFileNameWithoutExtension(path).ToLowerInvariant()) is not { Success: true } k || k.Groups[1].Value == "id") return (null, null);
        return (k.Groups[1].Value, k.Groups[2].Success ? $"severity {k.Groups[2].Value}" : k.Groups[3].Success ? $"{k.Groups[3].Value} dB" : null);
    }

    static List<LabeledClip> Clips(string folder, bool? anomaly)
    {
        var files = System.IO.Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Where(f => AudioFiles.Extensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
            .Order(StringComparer.Ordinal);
        var clips = new List<LabeledClip>();
        foreach (var file in files)
        {
            var name = Path.GetFileNameWithoutExtension(file).ToLowerInvariant();
            var isAnomaly = anomaly ?? (name.StartsWith("anomaly", StringComparison.Ordinal)
                ? true
                : name.StartsWith("normal", StringComparison.Ordinal) ? false : throw new InvalidFileException(file, "a DCASE file name must start with normal_ or anomaly_"));
            var id = MachineIds.FromName(file) ?? "all";
            var (kind, level) = isAnomaly ? Fault(file) : (null, null);
            clips.Add(new LabeledClip(file, id, isAnomaly, kind, level));
        }
        return clips;
    }
}
