using System.CommandLine;
using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Cli;
using Pipeline.Shared.Errors;

/// <summary>
/// The audio inputs of <c>features</c>, <c>gmm</c> and <c>vae</c>: several files, folders or globs after
/// <c>--input</c>, and <c>--skip-bad</c>, with the same meaning everywhere.
/// </summary>
static class AudioInputs
{
    /// <summary><c>--input</c> taking one or more paths.</summary>
    public static Option<string[]> InputOption(string description) => new("--input", "-i")
    {
        Description = description, Required = true, AllowMultipleArgumentsPerToken = true, Arity = ArgumentArity.OneOrMore,
    };

    /// <summary><c>--skip-bad</c>: by default a job refuses to start when any input file is bad, listing them all.</summary>
    public static Option<bool> SkipBadOption() => new("--skip-bad")
    {
        Description = "Leave out input files that cannot be used (each is named in a warning) instead of refusing to start",
    };

    /// <summary>
    /// Features of <paramref name="files"/> (found by <see cref="AudioFiles.Find(IReadOnlyList{string})"/>), in order;
    /// bad files fail the job (all listed) or, with <paramref name="skipBad"/>, are left out with one warning each.
    /// </summary>
    public static IReadOnlyList<(string Path, NdArray Features)> Load(IReadOnlyList<string> files, FeatureLoader loader, bool skipBad, TextWriter log,
        IProgress<FeatureLoadProgress>? progress = null)
    {
        foreach (var warning in loader.Extractor.Warnings) log.WriteLine($"warning: {warning}");
        var skipped = skipBad ? new List<PipelineException>() : null;
        var results = loader.Load(files, progress, CommandLineHost.Cancellation, skipped);
        foreach (var problem in skipped ?? []) log.WriteLine($"warning: skipped {problem.Message}");
        return results;
    }

    /// <summary>
    /// What <c>gmm</c> and <c>vae</c> train on: one .npy matrix (rows are samples; no front end), or the
    /// <paramref name="frontEnd"/> features of the audio files the inputs name, stacked, with each file's own.
    /// </summary>
    public static (NdArray Data, List<NdArray>? Files) MatrixOrAudio(IReadOnlyList<string> inputs, FrontEndConfig frontEnd, bool skipBad, TextWriter log)
    {
        if (inputs.Any(i => i.EndsWith(".npy", StringComparison.OrdinalIgnoreCase)))
        {
            if (inputs.Count > 1) throw new InvalidOptionException("--input takes one .npy matrix, or audio files, not both or several matrices");
            return (NpyFile.Read(inputs[0]), null);
        }
        var files = Load(AudioFiles.Find(inputs), new FeatureLoader(new FeatureExtractor(frontEnd)), skipBad, log).Select(r => r.Features).ToList();
        return (new NdArray([files.Sum(f => f.Rows), frontEnd.Dimensions], files.SelectMany(f => f.Data).ToArray()), files);
    }
}
