using System.Security.Cryptography;
using System.Text;
using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;

namespace Pipeline.Shared.Audio;

/// <summary>Progress of <see cref="FeatureLoader.Load"/>: files finished so far.</summary>
public sealed record FeatureLoadProgress(int Done, int Total, string File, bool FromCache);

/// <summary>
/// Computes features for many files in parallel, optionally through a cache: one <c>.npy</c> per file, named by
/// the SHA-256 of the file's bytes and the canonical front-end configuration, so a second training run (or
/// another job with the same front end) reads instead of recomputing, and a changed file or setting misses.
/// </summary>
public sealed class FeatureLoader(FeatureExtractor extractor, string? cacheDirectory = null)
{
    /// <summary>The extractor used for misses.</summary>
    public FeatureExtractor Extractor { get; } = extractor;

    /// <summary>Features of every file, in the given order; progress is reported as files finish.</summary>
    /// <param name="skipped">
    /// Null: any file that cannot be used fails the whole load, with every such file listed
    /// (<see cref="BadInputFilesException"/>). Otherwise those files are left out of the result and their errors
    /// added here, in input order (<c>--skip-bad</c>); a load where every file is bad still fails.
    /// </param>
    public IReadOnlyList<(string Path, NdArray Features)> Load(IReadOnlyList<string> files, IProgress<FeatureLoadProgress>? progress = null,
        CancellationToken cancellation = default, ICollection<PipelineException>? skipped = null)
    {
        var results = new NdArray?[files.Count];
        var problems = new PipelineException?[files.Count];
        var done = 0;
        var cacheExisted = cacheDirectory is null || Directory.Exists(cacheDirectory);
        try
        {
            Parallel.For(0, files.Count, Threading.ComputeThreads.Cancellable(cancellation), i =>
            {
                var cached = false;
                // a file that cannot be used is that file's problem; a cache that cannot be written stops the load
                try { (results[i], cached) = LoadOne(files[i]); }
                catch (PipelineException e) when (e is not OutputWriteException) { problems[i] = e; }
                progress?.Report(new FeatureLoadProgress(Interlocked.Increment(ref done), files.Count, files[i], cached));
            });
        }
        catch (AggregateException e) when (e.InnerExceptions.OfType<OutputWriteException>().FirstOrDefault() is { } write)
        {
            // the cache as the user named it, and no empty cache folder left behind
            if (!cacheExisted && Directory.Exists(cacheDirectory) && !Directory.EnumerateFileSystemEntries(cacheDirectory).Any())
                Directory.Delete(cacheDirectory);
            throw new OutputWriteException(cacheDirectory ?? write.Path, write.Reason, write);
        }
        var bad = problems.OfType<PipelineException>().ToList();
        if (bad.Count > 0 && (skipped is null || bad.Count == files.Count))
            throw bad.Count == 1 && files.Count == 1 ? bad[0] : new BadInputFilesException(bad, bad.Count == files.Count
                ? $"none of the {files.Count} input files can be used"
                : $"{bad.Count} of {files.Count} input files cannot be used; fix or remove them, or pass --skip-bad to leave them out");
        foreach (var problem in bad) skipped!.Add(problem);
        return files.Select((f, i) => (f, results[i])).Where(r => r.Item2 is not null).Select(r => (r.f, r.Item2!)).ToList();
    }

    /// <summary>Features of one file, through the cache when there is one.</summary>
    public NdArray LoadFile(string path) => LoadOne(path).Features;

    (NdArray Features, bool Cached) LoadOne(string path)
    {
        if (cacheDirectory is null) return (Extractor.ExtractFile(path), false);
        if (!File.Exists(path)) throw new InvalidAudioException(path, Directory.Exists(path) ? "is a folder, not an audio file" : "no such file");
        byte[] content;
        try { content = File.ReadAllBytes(path); }
        catch (Exception e) when (Files.IoErrors.IsIo(e)) { throw new InvalidAudioException(path, $"cannot be read ({Files.IoErrors.Reason(e, writing: false)})", e); }
        var cached = Path.Combine(cacheDirectory, CacheKey(content) + ".npy");
        if (File.Exists(cached))
        {
            try
            {
                var entry = NpyFile.Read(cached);
                // an entry edited or damaged by hand is recomputed: features are finite and as wide as the front end
                if (entry.Shape.Length == 2 && entry.Rows > 0 && entry.Columns == Extractor.Config.Dimensions && entry.FirstNonFinite() < 0)
                    return (entry, true);
            }
            catch (InvalidFileException) { }
        }
        var features = Extractor.ExtractFile(path);
        NpyFile.Write(cached, features);
        return (features, false);
    }

    string CacheKey(byte[] content)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(content);
        hash.AppendData(Encoding.UTF8.GetBytes(Extractor.Config.Canonical().ToJson()));
        return Convert.ToHexStringLower(hash.GetHashAndReset())[..40];
    }
}
