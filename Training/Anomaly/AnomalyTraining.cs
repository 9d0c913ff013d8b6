using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Errors;
using Pipeline.Shared.Manifest;
using Pipeline.Shared.Scoring;
using Pipeline.Inference.Runtime;
using Pipeline.Training.Engine;
using Pipeline.Training.Fitting;
using Pipeline.Training.Networks;
using TorchSharp;

namespace Pipeline.Training.Anomaly;

/// <summary>The DCASE 2020 Task 2 baseline recipe; every field can be overridden.</summary>
public sealed record AnomalyTrainingOptions
{
    /// <summary>Front end, including the context stacking the network sees (the baseline: 64 log-mel bands, 10 + 10 frames).</summary>
    public FrontEndConfig FrontEnd { get; init; } = FrontEndConfig.DcaseLogMel;
    /// <summary>
    /// Which network judges the frames: "ae", the autoencoder that reconstructs each context window (the baseline), or
    /// "idnn", the interpolation network that predicts each window's centre frame from the frames around it.
    /// </summary>
    public string Detector { get; init; } = "ae";
    /// <summary>Encoder widths, the last being the code. Default 512, 256, 128.</summary>
    public int[] Hidden { get; init; } = [512, 256, 128];
    /// <summary>Dropout before the last layer. Default 0.2.</summary>
    public double Dropout { get; init; } = 0.2;
    /// <summary>How the network is trained: epochs, Adam, the rate schedule, batches, seed, checkpoint. The seed also draws the validation split.</summary>
    public AutoencoderTrainingOptions Training { get; init; } = new();
    /// <summary>Where LibTorch trains: auto (CUDA when LibTorch sees a GPU), cpu or cuda.</summary>
    public Device Device { get; init; } = Device.Auto;
    /// <summary>Share of the normal training files held out for the validation loss and the threshold.</summary>
    public double ValidationFraction { get; init; } = 0.1;
    /// <summary>"max" or "mean" of the per-frame errors.</summary>
    public string Aggregation { get; init; } = "max";
    /// <summary>Frames dropped at each end before aggregating.</summary>
    public int TrimFrames { get; init; } = 50;
    /// <summary>FPR on the validation normals that places the decision threshold.</summary>
    public double TargetFpr { get; init; } = 0.1;
    /// <summary>A fixed decision threshold instead of the FPR rule.</summary>
    public double? Threshold { get; init; }
    /// <summary>Feature cache directory.</summary>
    public string? CacheDirectory { get; init; }
    /// <summary>Leave out clips that cannot be read (listed in <see cref="AnomalyTrainingResult.Skipped"/>) instead of refusing to start.</summary>
    public bool SkipBadFiles { get; init; }

    /// <summary>The detectors <see cref="Detector"/> names.</summary>
    public static readonly IReadOnlyList<string> Detectors = ["ae", "idnn"];

    /// <summary>Reports every bad setting at once.</summary>
    public AnomalyTrainingOptions Validate()
    {
        FrontEnd.Validate();
        var problems = new List<string>(Training.Problems());
        if (FrontEnd.ContextBefore + FrontEnd.ContextAfter == 0) problems.Add("the front end needs context frames (the DCASE 2020 Task 2 baseline uses 10 before, 10 after)");
        if (!Detectors.Contains(Detector)) problems.Add($"the detector must be {string.Join(" or ", Detectors)} (got '{Detector}')");
        if (Hidden.Length == 0 || Hidden.Any(h => h < 1)) problems.Add($"hidden widths must be positive (got {string.Join(",", Hidden)})");
        if (!(Dropout >= 0 && Dropout < 1)) problems.Add($"dropout must lie in [0, 1) (got {Dropout})");
        if (!(ValidationFraction > 0 && ValidationFraction < 1)) problems.Add($"validation fraction must lie in (0, 1) (got {ValidationFraction})");
        if (Threshold is { } t && !double.IsFinite(t)) problems.Add($"a given threshold must be finite (got {t})");
        if (!FrameScores.Aggregations.Contains(Aggregation)) problems.Add($"aggregation must be {string.Join(" or ", FrameScores.Aggregations)} (got '{Aggregation}')");
        if (TrimFrames < 0) problems.Add($"trim must be ≥ 0 frames (got {TrimFrames})");
        if (!(TargetFpr > 0 && TargetFpr < 1)) problems.Add($"target FPR must lie in (0, 1) (got {TargetFpr})");
        if (problems.Count > 0) throw new InvalidOptionException("anomaly training: " + string.Join("; ", problems));
        return this;
    }
}

/// <summary>A clip's score and its label.</summary>
public sealed record ScoredClip(LabeledClip Clip, double Score, bool Decision);

/// <summary>Metrics for one group of test clips (all, one machine ID, or one anomaly kind).</summary>
public sealed record GroupScores(string Group, DetectionScores Scores);

/// <summary>What training produced.</summary>
public sealed record AnomalyTrainingResult(
    torch.nn.Module<torch.Tensor, torch.Tensor> Model, TrainingHistory History, AnomalyScoring Scoring, IReadOnlyList<ScoredClip> Validation,
    IReadOnlyList<ScoredClip> Test, IReadOnlyList<GroupScores> Metrics, int TrainFrames)
{
    /// <summary>Clips left out because they could not be used (<see cref="AnomalyTrainingOptions.SkipBadFiles"/>).</summary>
    public IReadOnlyList<Shared.Errors.PipelineException> Skipped { get; init; } = [];

    /// <summary>The normal clips whose scores placed the threshold (the validation clips, or the training clip when there are none); empty for a given threshold.</summary>
    public IReadOnlyList<LabeledClip> CalibrationClips { get; init; } = [];

    /// <summary>The same result under another threshold (one calibrated on the exported graph, say): every decision made again.</summary>
    public AnomalyTrainingResult WithScoring(AnomalyScoring scoring) => this with
    {
        Scoring = scoring,
        Validation = Validation.Select(c => c with { Decision = c.Score > scoring.Threshold }).ToList(),
        Test = Test.Select(c => c with { Decision = c.Score > scoring.Threshold }).ToList(),
    };
}

/// <summary>
/// Trains a frame-error detector (the DCASE 2020 Task 2 baseline autoencoder, or the interpolation network) on a data
/// set's normal training clips and evaluates it on its test clips.
/// Features are computed once per file without context; mini-batches stack the 20-frame context row by row
/// (<see cref="ContextWindows"/>), so memory holds 64 values per frame rather than 1280. The network is a TorchSharp
/// module trained by <see cref="AutoencoderTrainer"/> on the device the options name.
/// </summary>
public static class AnomalyTraining
{
    /// <summary>Runs the whole job.</summary>
    public static AnomalyTrainingResult Train(AnomalyDataset data, AnomalyTrainingOptions options,
        IProgress<FeatureLoadProgress>? loading = null, IProgress<BatchReport>? batches = null, IProgress<EpochReport>? epochs = null,
        CancellationToken cancellation = default)
    {
        options.Validate();
        var device = TorchDevice.Resolve(options.Device);
        var perFrame = options.FrontEnd with { ContextBefore = 0, ContextAfter = 0 };
        var loader = new FeatureLoader(new FeatureExtractor(perFrame), options.CacheDirectory);

        // hold out whole files (frames of one file are strongly correlated)
        long[] order;
        using (var split = new torch.Generator((ulong)options.Training.Seed))
        using (var permutation = torch.randperm(data.Train.Count, generator: split))
            order = permutation.data<long>().ToArray();
        var validationCount = data.Train.Count < 2 ? 0 : Math.Max(1, (int)Math.Round(options.ValidationFraction * data.Train.Count));
        var validationClips = order.Take(validationCount).Order().Select(i => data.Train[(int)i]).ToList();
        var trainClips = order.Skip(validationCount).Order().Select(i => data.Train[(int)i]).ToList();
        // every file is read before any training: all that cannot be used are listed at once (or left out with SkipBadFiles)
        var paths = trainClips.Concat(validationClips).Concat(data.Test).Select(c => c.Path).ToList();
        var problems = new List<Shared.Errors.PipelineException>();
        var loaded = loader.Load(paths, loading, cancellation, problems).ToDictionary(r => r.Path, r => r.Features);
        var minimum = options.FrontEnd.MinimumFrames; // mirrored context needs that many real frames
        foreach (var (path, f) in loaded.Where(l => l.Value.Rows < minimum).ToList())
        {
            problems.Add(new InvalidAudioException(path, $"is too short: it gives {f.Rows} frame{(f.Rows == 1 ? "" : "s")}, and {options.FrontEnd.ContextBefore} + {options.FrontEnd.ContextAfter} context frames need at least {minimum} ({options.FrontEnd.MinimumSamples} samples at {options.FrontEnd.SampleRate} Hz)"));
            loaded.Remove(path);
        }
        if (problems.Count > 0 && !options.SkipBadFiles)
        {
            var position = paths.Select((p, i) => (p, i)).ToDictionary(x => x.p, x => x.i);
            var ordered = problems.OrderBy(p => p is InvalidAudioException a && position.TryGetValue(a.AudioSource, out var i) ? i : int.MaxValue).ToList();
            throw new Shared.Errors.BadInputFilesException(ordered, $"{problems.Count} of {paths.Count} input files cannot be used; fix or remove them, or pass --skip-bad to leave them out");
        }
        trainClips = trainClips.Where(c => loaded.ContainsKey(c.Path)).ToList();
        validationClips = validationClips.Where(c => loaded.ContainsKey(c.Path)).ToList();
        var testClips = data.Test.Where(c => loaded.ContainsKey(c.Path)).ToList();
        if (trainClips.Count == 0) throw new InvalidInputException("no training clip is left once the validation clips are held out");
        var trainFeatures = trainClips.Select(c => loaded[c.Path]).ToList();
        var validationFeatures = validationClips.Select(c => loaded[c.Path]).ToList();
        var (before, after) = (options.FrontEnd.ContextBefore, options.FrontEnd.ContextAfter);
        var rows = new ContextWindows(trainFeatures, before, after);

        torch.manual_seed(options.Training.Seed); // weights and dropout
        var hooks = new TrainingHooks { Batches = batches, Epochs = epochs };
        TrainingHistory history;
        torch.nn.Module<torch.Tensor, torch.Tensor> model;
        if (options.Detector == "idnn")
        {
            var idnn = new InterpolationNetwork(perFrame.Dimensions, before, after, options.Hidden, options.Dropout, device);
            (model, history) = (idnn, Fit(idnn));
        }
        else
        {
            var autoencoder = new Autoencoder(options.FrontEnd.Dimensions, options.Hidden, options.Dropout, device);
            (model, history) = (autoencoder, Fit(autoencoder));
        }
        TrainingHistory Fit<TNetwork>(TNetwork network) where TNetwork : torch.nn.Module<torch.Tensor, torch.Tensor>, IFrameErrorNetwork =>
            AutoencoderTrainer.Fit(network, rows.Count, indices => rows.Gather(indices, device), options.Training, hooks with { Validation = Validation(network) }, cancellation);
        Func<double>? Validation(torch.nn.Module<torch.Tensor, torch.Tensor> network) =>
            validationFeatures.Count == 0 ? null : () => validationFeatures.Average(f => (double)FrameErrors(network, f, before, after).Average());

        double Score(NdArray f) => FrameScores.Aggregate(FrameErrors(model, f, before, after), options.Aggregation, options.TrimFrames);
        var validationScores = validationFeatures.Select(Score).ToList();
        double threshold;
        string rule;
        if (options.Threshold is { } given) (threshold, rule) = (given, "given");
        else if (validationScores.Count > 0)
            (threshold, rule) = (DetectionMetrics.ThresholdAtFpr(validationScores, options.TargetFpr), $"FPR {options.TargetFpr} on {validationScores.Count} validation normal clips");
        else // a single training clip: its own score is all there is
            (threshold, rule) = (DetectionMetrics.ThresholdAtFpr(trainFeatures.Select(Score).ToList(), options.TargetFpr), $"FPR {options.TargetFpr} on {trainFeatures.Count} training clip(s) (no validation clips)");
        var scoring = new AnomalyScoring(options.Aggregation, options.TrimFrames, threshold, rule);
        var validation = validationClips.Zip(validationScores, (c, s) => new ScoredClip(c, s, s > threshold)).ToList();

        var test = testClips.Select(c => { var s = Score(loaded[c.Path]); return new ScoredClip(c, s, s > threshold); }).ToList();
        return new AnomalyTrainingResult(model, history, scoring, validation, test, Metrics(test, options.TargetFpr), (int)rows.Count)
        {
            Skipped = problems,
            CalibrationClips = options.Threshold is not null ? [] : validationClips.Count > 0 ? validationClips : trainClips,
        };
    }

    /// <summary>
    /// Per-frame error of one file's per-frame features, in evaluation mode: the autoencoder's reconstruction error or
    /// the interpolation network's prediction error (<see cref="IFrameErrorNetwork"/>).
    /// </summary>
    /// <exception cref="ArgumentException">The model is not an <see cref="IFrameErrorNetwork"/>.</exception>
    public static float[] FrameErrors(torch.nn.Module<torch.Tensor, torch.Tensor> model, NdArray perFrameFeatures, int before, int after)
    {
        var network = model as IFrameErrorNetwork ?? throw new ArgumentException($"a {model.GetType().Name} has no frame errors", nameof(model));
        var device = model.parameters().First().device;
        var windows = new ContextWindows([perFrameFeatures], before, after);
        var errors = new float[perFrameFeatures.Rows];
        var wasTraining = model.training;
        model.eval();
        using (torch.no_grad())
            for (var start = 0; start < errors.Length; start += 1000)
                using (torch.NewDisposeScope())
                {
                    var count = Math.Min(1000, errors.Length - start);
                    var x = windows.Gather(torch.arange(start, start + count, dtype: torch.int64), device);
                    var e = network.FrameErrors(x).cpu();
                    e.data<float>().CopyTo(errors.AsSpan(start, count));
                }
        model.train(wasTraining);
        return errors;
    }

    // levels from subtle to obvious: "-20 dB" before "-10 dB", "severity 1" before "severity 2"
    internal static double LevelOrder(string level)
    {
        var number = level.StartsWith("severity ", StringComparison.Ordinal) ? level["severity ".Length..] : level.Replace(" dB", "", StringComparison.Ordinal);
        return double.TryParse(number, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var v) ? v : double.MaxValue;
    }

    /// <summary>
    /// Metrics overall, per machine ID, per anomaly kind and per fault level (that kind's or level's clips against
    /// every normal clip).
    /// </summary>
    public static IReadOnlyList<GroupScores> Metrics(IReadOnlyList<ScoredClip> test, double maxFpr)
    {
        var groups = new List<GroupScores>();
        void Add(string name, IEnumerable<ScoredClip> clips)
        {
            var list = clips.ToList();
            var normal = list.Where(c => !c.Clip.IsAnomaly).Select(c => c.Score).ToList();
            var anomaly = list.Where(c => c.Clip.IsAnomaly).Select(c => c.Score).ToList();
            if (normal.Count > 0 && anomaly.Count > 0) groups.Add(new GroupScores(name, DetectionMetrics.Evaluate(normal, anomaly, maxFpr)));
        }
        Add("all", test);
        foreach (var id in test.Select(c => c.Clip.MachineId).Distinct().Order(StringComparer.Ordinal))
            if (id != "all") Add(id, test.Where(c => c.Clip.MachineId == id));
        foreach (var kind in test.Where(c => c.Clip.Kind is not null).Select(c => c.Clip.Kind!).Distinct().Order(StringComparer.Ordinal))
            Add(kind, test.Where(c => !c.Clip.IsAnomaly || c.Clip.Kind == kind));
        foreach (var level in test.Where(c => c.Clip.Level is not null).Select(c => c.Clip.Level!).Distinct().OrderBy(LevelOrder))
            Add($"at {level}", test.Where(c => !c.Clip.IsAnomaly || c.Clip.Level == level));
        return groups;
    }
}
