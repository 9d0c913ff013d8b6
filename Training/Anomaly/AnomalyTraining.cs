using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Errors;
using Pipeline.Shared.Manifest;
using Pipeline.Shared.Scoring;
using Pipeline.Inference.Runtime;
using Pipeline.Training.Engine;
using Pipeline.Training.Networks;
using TorchSharp;
using Pipeline.Training.Trainers;

namespace Pipeline.Training.Anomaly;

/// <summary>The DCASE 2020 Task 2 baseline recipe; every field can be overridden.</summary>
public sealed record AnomalyTrainingOptions
{
    /// <summary>Front end, including the context stacking the network sees (the baseline: 64 log-mel bands, 10 + 10 frames).</summary>
    public FrontEndConfig FrontEnd { get; init; } = FrontEndConfig.DcaseLogMel;
    /// <summary>
    /// Which network judges the frames: "ae", the autoencoder that reconstructs each context window (the baseline);
    /// "idnn", the interpolation network that predicts each window's centre frame from the frames around it; or
    /// "id-classifier", the convolutional network that tells the machine IDs of a type apart (two or more IDs needed);
    /// or "clip-stats", each clip's band means, spreads and maxima against its machine ID's normal clips
    /// (<see cref="ClipStatistics"/>: fitted in closed form, no epochs, no context).
    /// </summary>
    public string Detector { get; init; } = "ae";
    /// <summary>Encoder widths, the last being the code. Default 512, 256, 128.</summary>
    public int[] Hidden { get; init; } = [512, 256, 128];
    /// <summary>The machine-ID classifier's channels per convolutional block. Default 16, 32, 64.</summary>
    public int[] Channels { get; init; } = [.. MachineIdClassifier.DefaultChannels];
    /// <summary>
    /// Divide each output value's squared error by its mean over the training frames before averaging a frame's
    /// error (the autoencoder and the interpolation network): a band the model always reconstructs poorly no longer
    /// drowns out the one where a fault shows.
    /// </summary>
    public bool NormalizeBands { get; init; }
    /// <summary>Dropout before the last layer. Default 0.2.</summary>
    public double Dropout { get; init; } = 0.2;
    /// <summary>How the network is trained: epochs, Adam, the rate schedule, batches, seed, checkpoint. The seed also draws the validation split.</summary>
    public AutoencoderTrainingOptions Training { get; init; } = new();
    /// <summary>Where LibTorch trains: auto (CUDA when LibTorch sees a GPU), cpu or cuda.</summary>
    public Device Device { get; init; } = Device.Auto;
    /// <summary>Share of the normal training files held out for the validation loss and the threshold.</summary>
    public double ValidationFraction { get; init; } = 0.1;
    /// <summary>
    /// How frame errors become a file score: "max", "mean", "top-p%" (the mean of the highest p % of frames), or "auto",
    /// chosen on the validation normals by <see cref="AggregationChoice"/> (with fewer than two of them, the detector's usual rule, with a note). Null: the detector's usual rule, "max"
    /// for the autoencoder and the interpolation network (the baseline's), "mean" for the machine-ID classifier.
    /// </summary>
    public string? Aggregation { get; init; }
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

    /// <summary>The features the detector reads per row: context windows for the frame models, single frames for clip statistics.</summary>
    public FrontEndConfig DetectorFrontEnd => Detector == "clip-stats" ? FrontEnd with { ContextBefore = 0, ContextAfter = 0 } : FrontEnd;

    /// <summary>The detectors <see cref="Detector"/> names.</summary>
    public static readonly IReadOnlyList<string> Detectors = ["ae", "idnn", "id-classifier", "clip-stats"];

    /// <summary>The aggregation a job uses before any "auto" choice: <see cref="Aggregation"/> or the detector's usual rule.</summary>
    public string AggregationOrDefault => Aggregation ?? UsualAggregation(Detector);

    /// <summary>A detector's usual rule: "mean" for the machine-ID classifier, the graph's own clip score for clip statistics, "max" (the baseline's) for the others.</summary>
    public static string UsualAggregation(string detector) => detector switch { "id-classifier" => "mean", "clip-stats" => FrameScores.Clip, _ => "max" };

    /// <summary>Reports every bad setting at once.</summary>
    public AnomalyTrainingOptions Validate()
    {
        FrontEnd.Validate();
        var problems = new List<string>(Training.Problems());
        if (FrontEnd.ContextBefore + FrontEnd.ContextAfter == 0 && Detector != "clip-stats") problems.Add("the front end needs context frames (the DCASE 2020 Task 2 baseline uses 10 before, 10 after)");
        if (!Detectors.Contains(Detector)) problems.Add($"the detector must be {string.Join(", ", Detectors.SkipLast(1))} or {Detectors[^1]} (got '{Detector}')");
        if (Hidden.Length == 0 || Hidden.Any(h => h < 1)) problems.Add($"hidden widths must be positive (got {string.Join(",", Hidden)})");
        if (!(Dropout >= 0 && Dropout < 1)) problems.Add($"dropout must lie in [0, 1) (got {Dropout})");
        if (!(ValidationFraction > 0 && ValidationFraction < 1)) problems.Add($"validation fraction must lie in (0, 1) (got {ValidationFraction})");
        if (Threshold is { } t && !double.IsFinite(t)) problems.Add($"a given threshold must be finite (got {t})");
        if (Detector == "clip-stats" && Aggregation is not null && Aggregation != FrameScores.Clip)
            problems.Add($"clip statistics score whole clips; --aggregation ({Aggregation}) applies to the frame detectors (ae, idnn, id-classifier)");
        else if (Aggregation is not null && Aggregation != "auto" && !FrameScores.IsKnown(Aggregation))
            problems.Add($"aggregation must be {string.Join(", ", FrameScores.Aggregations)} or auto (got '{Aggregation}')");
        if (Channels.Length == 0 || Channels.Any(c => c < 1)) problems.Add($"channels must be positive (got {string.Join(",", Channels)})");
        if (NormalizeBands && Detector is "id-classifier" or "clip-stats") problems.Add($"band normalisation applies to reconstruction and prediction errors (ae, idnn), not to {(Detector == "clip-stats" ? "clip statistics" : "the machine-ID classifier")}");
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

    /// <summary>With band normalisation: each output value's weight 1 / (its mean squared error on the training frames); else null.</summary>
    public float[]? ErrorWeights { get; init; }

    /// <summary>With "auto" aggregation: every candidate's rating on the validation normals (<see cref="AggregationChoice"/>).</summary>
    public IReadOnlyList<AggregationChoice.Rating> AggregationRatings { get; init; } = [];

    /// <summary>For the machine-ID classifier: the IDs' embedding statistics its frame errors measure against.</summary>
    public IdEmbeddingStatistics? Embedding { get; init; }

    /// <summary>What a user should know about how clips were scored (test clips of a machine ID not seen in training, say).</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];

    /// <summary>The machine IDs of the training clips (<c>id_NN</c>), or null when their names carry none.</summary>
    public IReadOnlyList<string>? TrainingMachineIds { get; init; }

    /// <summary>The normal clips whose scores placed the threshold (the validation clips, or the training clip when there are none); empty for a given threshold.</summary>
    public IReadOnlyList<LabeledClip> CalibrationClips { get; init; } = [];

    /// <summary>
    /// The validation clips with the scores the exported graph gave them (in order), each decision made again: when
    /// the threshold was calibrated on those scores, the report then shows the clips as they are served.
    /// </summary>
    /// <exception cref="ArgumentException">Not one score per validation clip.</exception>
    public AnomalyTrainingResult WithServedValidationScores(IReadOnlyList<double> scores) => scores.Count != Validation.Count
        ? throw new ArgumentException($"{scores.Count} scores for {Validation.Count} validation clips", nameof(scores))
        : this with { Validation = Validation.Zip(scores, (c, s) => c with { Score = s, Decision = s > Scoring.Threshold }).ToList() };

    /// <summary>The same result under another threshold (one calibrated on the exported graph, say): every decision made again.</summary>
    public AnomalyTrainingResult WithScoring(AnomalyScoring scoring) => this with
    {
        Scoring = scoring,
        Validation = Validation.Select(c => c with { Decision = c.Score > scoring.Threshold }).ToList(),
        Test = Test.Select(c => c with { Decision = c.Score > scoring.Threshold }).ToList(),
    };
}

/// <summary>
/// Trains an anomaly detector (the DCASE 2020 Task 2 baseline autoencoder, the interpolation network, the machine-ID
/// classifier, or clip statistics) on a data set's normal training clips and evaluates it on its test clips.
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
        if (options.Detector == "id-classifier") RequireMachineIds(data.Train, data.Directory, data.Layout, "the training clips of");

        var (validationClips, trainClips) = HoldOut(data.Train, options.ValidationFraction, options.Training.Seed);
        // every file is read before any training: all that cannot be used are listed at once (or left out with SkipBadFiles)
        var paths = trainClips.Concat(validationClips).Concat(data.Test).Select(c => c.Path).ToList();
        var problems = new List<Shared.Errors.PipelineException>();
        var loaded = loader.Load(paths, loading, cancellation, problems).ToDictionary(r => r.Path, r => r.Features);
        // the features were read frame by frame: a clip too short for the detector's context is refused as the extractor would
        var context = new FeatureExtractor(options.DetectorFrontEnd);
        foreach (var (path, f) in loaded.Where(l => l.Value.Rows < options.DetectorFrontEnd.MinimumFrames).ToList())
        {
            problems.Add(context.TooShort(f.Rows, path));
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
        // the IDs a model learns are those it trains on: an ID whose files were all skipped is not one
        var machineIds = trainClips.Select(c => c.MachineId).Distinct().Order(StringComparer.Ordinal).ToList();
        var notes = new List<string>();
        // --skip-bad can take an ID's every training file: say so, not only through its test clips' notes
        foreach (var gone in data.Train.Select(c => c.MachineId).Distinct().Where(id => id != "all" && !machineIds.Contains(id)).Order(StringComparer.Ordinal))
            notes.Add($"machine ID {gone} has no usable training file (its files were left out as unusable): it is not learned, and its test clips are scored as an unseen ID's");
        if (options.Detector == "id-classifier") RequireMachineIds(trainClips, data.Directory, data.Layout, "once validation clips are held out and unusable files left out, the training clips of");
        if (options.Detector is "id-classifier" or "clip-stats") RequireValidationIdsTrained(machineIds, validationClips, options.Detector);
        if (options.Detector == "clip-stats") RequireClipsPerId(trainClips, validationClips);
        var trainFeatures = trainClips.Select(c => loaded[c.Path]).ToList();
        var validationFeatures = validationClips.Select(c => loaded[c.Path]).ToList();
        var (before, after) = (options.FrontEnd.ContextBefore, options.FrontEnd.ContextAfter);
        var rows = new ContextWindows(trainFeatures, before, after);

        torch.manual_seed(options.Training.Seed); // weights and dropout
        var hooks = new TrainingHooks { Batches = batches, Epochs = epochs };
        TrainingHistory history;
        torch.nn.Module<torch.Tensor, torch.Tensor> model;
        float[]? weights = null;
        IdEmbeddingStatistics? embedding = null;
        switch (options.Detector)
        {
            case "id-classifier":
            {
                var classifier = new MachineIdClassifier(perFrame.Dimensions, before + after, machineIds, options.Channels, options.Dropout, device);
                var labels = trainClips.Select(c => (long)machineIds.IndexOf(c.MachineId)).ToArray();
                var sampling = BalancedRows(rows, trainFeatures, labels, machineIds.Count);
                using var rowLabels = torch.tensor(sampling.Labels);
                using var rowTable = torch.tensor(sampling.Rows);
                var batchHooks = hooks with { Validation = Validation(classifier) };
                history = AutoencoderTrainer.Fit(classifier, sampling.Rows.Length, indices =>
                {
                    using var picked = rowTable.index_select(0, indices);
                    using var x = rows.Gather(picked, device);
                    using var y = rowLabels.index_select(0, indices).to(device);
                    using var logits = classifier.forward(x);
                    return torch.nn.functional.cross_entropy(logits, y);
                }, options.Training, batchHooks, cancellation);
                model = classifier;
                embedding = EmbeddingStatistics(classifier, trainFeatures, labels, machineIds.Count, before, after);
                break;
            }
            case "clip-stats":
            {
                var labels = trainClips.Select(c => machineIds.IndexOf(c.MachineId)).ToList();
                var statistics = ClipStatistics.Fit(trainFeatures, labels, machineIds, options.TrimFrames);
                double MeanError(List<LabeledClip> clips, List<NdArray> features) => clips.Zip(features).Average(p => statistics.ClipError(p.Second, MachineIndex(p.First)));
                (model, history) = (statistics, new TrainingHistory([MeanError(trainClips, trainFeatures)], validationClips.Count == 0 ? [] : [MeanError(validationClips, validationFeatures)], 0));
                break;
            }
            case "idnn":
            {
                var idnn = new InterpolationNetwork(perFrame.Dimensions, before, after, options.Hidden, options.Dropout, device);
                (model, history) = (idnn, Fit(idnn));
                break;
            }
            default:
            {
                var autoencoder = new Autoencoder(options.FrontEnd.Dimensions, options.Hidden, options.Dropout, device);
                (model, history) = (autoencoder, Fit(autoencoder));
                break;
            }
        }
        TrainingHistory Fit<TNetwork>(TNetwork network) where TNetwork : torch.nn.Module<torch.Tensor, torch.Tensor>, IFrameErrorNetwork =>
            AutoencoderTrainer.Fit(network, rows.Count, indices => rows.Gather(indices, device), options.Training, hooks with { Validation = Validation(network) }, cancellation);
        Func<double>? Validation(torch.nn.Module<torch.Tensor, torch.Tensor> network) =>
            validationFeatures.Count == 0 ? null : () => validationClips.Zip(validationFeatures).Average(v => (double)FrameErrors(network, v.Second, before, after, MachineIndex(v.First)).Average());
        int MachineIndex(LabeledClip clip) => machineIds.IndexOf(clip.MachineId) is >= 0 and var k ? k : machineIds.Count;
        if (options.NormalizeBands) weights = ErrorWeights(model, trainFeatures, before, after);

        float[] Errors(NdArray f, LabeledClip clip) => FrameErrors(model, f, before, after, MachineIndex(clip), weights, embedding);
        var aggregation = options.AggregationOrDefault;
        IReadOnlyList<AggregationChoice.Rating> ratings = [];
        var clipRule = aggregation == FrameScores.Clip;
        var validationErrors = clipRule ? [] : validationClips.Zip(validationFeatures, (c, f) => Errors(f, c)).ToList();
        if (aggregation == "auto" && validationErrors.Count < 2)
        {
            aggregation = AnomalyTrainingOptions.UsualAggregation(options.Detector);
            notes.Add($"--aggregation auto chooses on the validation normals and needs two or more of them (this data set gives {validationErrors.Count}): kept {aggregation}; add training clips or name an aggregation");
        }
        if (aggregation == "auto")
        {
            var random = new Random((int)options.Training.Seed);
            var burst = validationClips.Zip(validationFeatures, (c, f) => Errors(AggregationChoice.WithBurst(f, random.Next(Math.Max(1, f.Rows - AggregationChoice.BurstFrames))), c)).ToList();
            var tone = validationClips.Zip(validationFeatures, (c, f) => Errors(AggregationChoice.WithTone(f, random.Next(f.Columns)), c)).ToList();
            (var chosen, ratings) = AggregationChoice.Choose(validationErrors, burst, tone, options.TrimFrames);
            aggregation = chosen ?? AnomalyTrainingOptions.UsualAggregation(options.Detector);
            if (chosen is null)
                notes.Add($"--aggregation auto: no candidate's scores rose on the synthetic faults (best d′ {ratings.Max(r => r.Separation):0.00}), so none is chosen: kept {aggregation}; train longer or name an aggregation");
        }

        double Score(float[] errors) => FrameScores.Aggregate(errors, aggregation, options.TrimFrames);
        // clip statistics score the clip itself; every other detector aggregates its frame errors
        double ClipScore(NdArray f, LabeledClip c) => model is ClipStatistics statistics ? statistics.ClipError(f, MachineIndex(c)) : Score(Errors(f, c));
        var validationScores = clipRule ? validationClips.Zip(validationFeatures, (c, f) => ClipScore(f, c)).ToList() : validationErrors.Select(Score).ToList();
        double threshold;
        string rule;
        if (options.Threshold is { } given) (threshold, rule) = (given, "given");
        else if (validationScores.Count > 0)
            (threshold, rule) = (DetectionMetrics.ThresholdAtFpr(validationScores, options.TargetFpr), DetectionMetrics.ThresholdRule(options.TargetFpr, validationScores.Count, "validation normal clips"));
        else // no validation clip: the training clips' own scores are all there is
        {
            notes.Add($"no training clip could be held out for validation, so the threshold was placed on the training clips' own scores, which sit lower than unseen normal clips' do: expect more false alarms than --target-fpr {options.TargetFpr}; add training clips");
            (threshold, rule) = (DetectionMetrics.ThresholdAtFpr(trainClips.Zip(trainFeatures, (c, f) => ClipScore(f, c)).ToList(), options.TargetFpr), DetectionMetrics.ThresholdRule(options.TargetFpr, trainFeatures.Count, "training clips (no validation clips)"));
        }
        var scoring = new AnomalyScoring(aggregation, options.TrimFrames, threshold, rule);
        var validation = validationClips.Zip(validationScores, (c, s) => new ScoredClip(c, s, s > threshold)).ToList();

        var test = testClips.Select(c => { var s = ClipScore(loaded[c.Path], c); return new ScoredClip(c, s, s > threshold); }).ToList();
        if (options.Detector == "clip-stats" && trainFeatures.Count(f => f.Rows <= 2 * options.TrimFrames) is > 0 and var shortClips)
            notes.Add($"{shortClips} of {trainFeatures.Count} training clips have {2 * options.TrimFrames} frames or fewer: --trim {options.TrimFrames} shrinks to keep their middle frame(s), so their statistics come from few frames; lower --trim for clips this short");
        if (options.Detector is "id-classifier" or "clip-stats")
            foreach (var unseen in testClips.Where(c => !machineIds.Contains(c.MachineId)).GroupBy(c => c.MachineId))
                notes.Add($"{unseen.Count()} test clip{(unseen.Count() == 1 ? " is" : "s are")} {(unseen.Key == "all" ? "without a machine ID in the name" : $"of machine ID {unseen.Key}, not seen in training")}: scored by how unlike every known ID ({string.Join(", ", machineIds)}) {(unseen.Count() == 1 ? "it sounds" : "they sound")}");
        else if (!machineIds.Contains("all")) // a frame model scores every clip alike, but its threshold only knows the training IDs' normals
            foreach (var unseen in testClips.Where(c => c.MachineId != "all" && !machineIds.Contains(c.MachineId)).GroupBy(c => c.MachineId))
                notes.Add($"{unseen.Count()} test clip{(unseen.Count() == 1 ? " is" : "s are")} of machine ID {unseen.Key}, not among the training IDs ({string.Join(", ", machineIds)}): scored as every clip is, against a threshold placed on their normal clips");
        return new AnomalyTrainingResult(model, history, scoring, validation, test, Metrics(test, options.TargetFpr), (int)rows.Count)
        {
            Skipped = problems,
            CalibrationClips = options.Threshold is not null ? [] : validationClips.Count > 0 ? validationClips : trainClips,
            ErrorWeights = weights,
            Embedding = embedding,
            AggregationRatings = ratings,
            Notes = notes,
            TrainingMachineIds = machineIds.Contains("all") ? null : machineIds,
        };
    }

    /// <summary>
    /// Splits the training clips into validation and training clips: whole files (the frames of one file are strongly
    /// correlated), <paramref name="fraction"/> of them (at least one when there are two or more) in a seeded random
    /// order, but never a machine ID's last clip, so every ID keeps a training clip (an ID of one clip is then
    /// learned, not held out, and the validation part can come out smaller).
    /// </summary>
    public static (List<LabeledClip> Validation, List<LabeledClip> Train) HoldOut(IReadOnlyList<LabeledClip> clips, double fraction, long seed)
    {
        long[] order;
        using (var split = new torch.Generator((ulong)seed))
        using (var permutation = torch.randperm(clips.Count, generator: split))
            order = permutation.data<long>().ToArray();
        var wanted = clips.Count < 2 ? 0 : Math.Max(1, (int)Math.Round(fraction * clips.Count));
        var left = clips.CountBy(c => c.MachineId).ToDictionary();
        var held = new HashSet<long>();
        foreach (var i in order.TakeWhile(_ => held.Count < wanted))
            if (left[clips[(int)i].MachineId] > 1)
            {
                left[clips[(int)i].MachineId]--;
                held.Add(i);
            }
        List<LabeledClip> Clips(bool validation) => order.Where(i => held.Contains(i) == validation).Order().Select(i => clips[(int)i]).ToList();
        return (Clips(validation: true), Clips(validation: false));
    }

    // the machine-ID classifier needs two or more IDs, and an ID in every training file's name
    static void RequireMachineIds(IEnumerable<LabeledClip> clips, string directory, string layout, string which)
    {
        var list = clips.ToList();
        var (first, second) = layout == "toyadmos" ? ("train_normal/id_00_*.wav", "id_02_*.wav") : ("train/normal_id_00_*.wav", "normal_id_02_*.wav");
        if (list.FirstOrDefault(c => c.MachineId == "all") is { } unnamed)
            throw new InvalidInputException($"the machine-ID classifier learns from each training file's machine ID (id_NN in its name), and {unnamed.Path} has none; rename it ({first}, say) or move it out of the training folder, or use --detector ae, idnn or clip-stats, which need no IDs");
        var ids = list.Select(c => c.MachineId).Distinct().Order(StringComparer.Ordinal).ToList();
        if (ids.Count < 2)
            throw new InvalidInputException($"the machine-ID classifier learns to tell the machine IDs of one type apart, and {which} {directory} are all of {(ids.Count == 0 ? "no machine" : ids[0])}; train it on a folder holding two or more IDs of the machine type, with several files each (named like {first}, {second}), or use --detector ae, idnn or clip-stats, which need no IDs");
    }

    // a detector that learns each ID from its own clips cannot place its threshold on clips of an ID it never learned
    // (the hold-out keeps a clip of every ID for training; skipped files can still take an ID's last one)
    static void RequireValidationIdsTrained(List<string> trained, List<LabeledClip> validation, string detector)
    {
        var lost = validation.Select(c => c.MachineId).Distinct().Where(id => !trained.Contains(id)).Order(StringComparer.Ordinal).ToList();
        if (lost.Count > 0)
            throw new InvalidInputException($"{(detector == "clip-stats" ? "clip statistics learn" : "the machine-ID classifier learns")} each machine ID from its own training clips, and no usable training clip of {string.Join(", ", lost)} is left once the validation clips are held out; add normal training clips of {(lost.Count == 1 ? "that ID" : "those IDs")} or fix the unusable ones");
    }

    // clip statistics learn the clips' spread from more clips than IDs: say so when the validation hold-out leaves too few
    static void RequireClipsPerId(List<LabeledClip> train, List<LabeledClip> validation)
    {
        var heldOut = validation.Count == 0
            ? $"none of the {train.Count} training clips could be held out to place the threshold"
            : $"{validation.Count} of the {train.Count + validation.Count} training clips {(validation.Count == 1 ? "is" : "are")} held out to place the threshold";
        var ids = train.Select(c => c.MachineId).Distinct().Count();
        if (train.Count <= ids)
            throw new InvalidInputException($"clip statistics need more training clips than machine IDs to measure the clips' spread, and {train.Count} clip{(train.Count == 1 ? " is" : "s are")} left for {ids} ID{(ids == 1 ? "" : "s")} ({heldOut}); add normal training clips");
    }

    /// <summary>
    /// What a user should hear before a job starts: for the machine-ID classifier, IDs with very different file counts
    /// (their frames are sampled evenly, so a rare ID's frames recur more often in an epoch).
    /// </summary>
    public static IReadOnlyList<string> Warnings(AnomalyDataset data, AnomalyTrainingOptions options)
    {
        if (options.Detector != "id-classifier") return [];
        var counts = data.Train.GroupBy(c => c.MachineId).ToDictionary(g => g.Key, g => g.Count());
        if (counts.Count < 2 || counts.Values.Max() < 2 * counts.Values.Min()) return [];
        return [$"machine IDs have very different numbers of training files ({string.Join(", ", counts.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => $"{c.Key}: {c.Value}"))}); each epoch samples every ID's frames equally often, repeating the rarer IDs' frames"];
    }

    /// <summary>
    /// An epoch's rows for the classifier, every ID equally often: each ID's frames, repeated in turn up to the count of
    /// the ID with the most frames. Returns row indices into <paramref name="rows"/> and their labels.
    /// </summary>
    static (long[] Rows, long[] Labels) BalancedRows(ContextWindows rows, IReadOnlyList<NdArray> files, long[] fileLabels, int classes)
    {
        var byClass = Enumerable.Range(0, classes).Select(_ => new List<long>()).ToArray();
        long row = 0;
        for (var i = 0; i < files.Count; i++)
            for (var t = 0; t < files[i].Rows; t++) byClass[fileLabels[i]].Add(row++);
        if (row != rows.Count) throw new InvalidOperationException("row count mismatch");
        var per = byClass.Max(c => c.Count);
        var (table, labels) = (new long[per * classes], new long[per * classes]);
        for (var k = 0; k < classes; k++)
            for (var j = 0; j < per; j++) (table[k * per + j], labels[k * per + j]) = (byClass[k][j % byClass[k].Count], k);
        return (table, labels);
    }

    /// <summary>The classifier's embedding statistics over the training frames (in evaluation mode).</summary>
    static IdEmbeddingStatistics EmbeddingStatistics(MachineIdClassifier classifier, IReadOnlyList<NdArray> files, long[] fileLabels, int ids, int before, int after)
    {
        var embeddings = files.Select(f => Evaluate(classifier, f, before, after, classifier.Embed)).ToList();
        var c = embeddings[0].Columns;
        var all = new float[embeddings.Sum(e => e.Data.Length)];
        var labels = new long[all.Length / c];
        var (at, row) = (0, 0);
        for (var i = 0; i < embeddings.Count; i++)
        {
            embeddings[i].Data.CopyTo(all, at);
            at += embeddings[i].Data.Length;
            for (var t = 0; t < embeddings[i].Rows; t++) labels[row++] = fileLabels[i];
        }
        using var x = torch.tensor(all, [labels.Length, c]);
        using var y = torch.tensor(labels);
        return IdEmbeddingStatistics.Fit(x, y, ids);
    }

    /// <summary>Band normalisation's weights: 1 / each output value's mean squared error over the training frames (in evaluation mode).</summary>
    static float[] ErrorWeights(torch.nn.Module<torch.Tensor, torch.Tensor> model, IReadOnlyList<NdArray> files, int before, int after)
    {
        double[]? sum = null;
        long count = 0;
        foreach (var f in files)
        {
            var residuals = Residuals(model, f, before, after);
            sum ??= new double[residuals.Columns];
            for (var i = 0; i < residuals.Data.Length; i++) sum[i % sum.Length] += residuals.Data[i];
            count += residuals.Rows;
        }
        // a value reconstructed exactly everywhere gets the weight a rounding-level error would
        var floor = sum!.Max() / count * 1e-6 + float.Epsilon;
        return sum!.Select(v => (float)(1.0 / Math.Max(v / count, floor))).ToArray();
    }

    /// <summary>
    /// Per-frame error of one file's per-frame features, in evaluation mode: the autoencoder's reconstruction error,
    /// the interpolation network's prediction error (each the mean of its squared errors, each first multiplied by
    /// <paramref name="weights"/> when given), or the machine-ID classifier's −log p(ID <paramref name="machineIndex"/>)
    /// (an index equal to the ID count: an unseen ID, scored −max log p), or clip statistics' frame curve (no context).
    /// </summary>
    /// <exception cref="ArgumentException">The model is not one of the detectors.</exception>
    public static float[] FrameErrors(torch.nn.Module<torch.Tensor, torch.Tensor> model, NdArray perFrameFeatures, int before, int after,
        int machineIndex = 0, float[]? weights = null, IdEmbeddingStatistics? embedding = null)
    {
        if (model is ClipStatistics statistics) return statistics.FrameErrors(perFrameFeatures, machineIndex);
        Func<torch.Tensor, torch.Tensor> errors = model switch
        {
            MachineIdClassifier classifier when embedding is not null => x =>
            {
                using var ids = torch.full(x.shape[0], machineIndex, torch.int64);
                using var e = classifier.Embed(x);
                return embedding.Errors(e, ids);
            },
            MachineIdClassifier classifier => x => { using var ids = torch.full(x.shape[0], machineIndex, torch.int64); return classifier.FrameErrors(x, ids); },
            IFrameErrorNetwork network when weights is not null => x =>
            {
                using var w = torch.tensor(weights, device: x.device);
                using var r = network.Residuals(x);
                using var weighted = r * w;
                return weighted.mean([1]);
            },
            IFrameErrorNetwork network => network.FrameErrors,
            _ => throw new ArgumentException($"a {model.GetType().Name} has no frame errors", nameof(model)),
        };
        return Evaluate(model, perFrameFeatures, before, after, errors).Data;
    }

    /// <summary>Each frame's squared errors (frames, outputs) of a reconstruction or prediction network, in evaluation mode.</summary>
    static NdArray Residuals(torch.nn.Module<torch.Tensor, torch.Tensor> model, NdArray perFrameFeatures, int before, int after) =>
        Evaluate(model, perFrameFeatures, before, after, ((IFrameErrorNetwork)model).Residuals);

    // runs f on a file's context windows 1000 rows at a time, without gradients, in evaluation mode
    static NdArray Evaluate(torch.nn.Module<torch.Tensor, torch.Tensor> model, NdArray perFrameFeatures, int before, int after, Func<torch.Tensor, torch.Tensor> f)
    {
        var device = model.parameters().First().device;
        var windows = new ContextWindows([perFrameFeatures], before, after);
        var frames = perFrameFeatures.Rows;
        float[]? values = null;
        var (width, vector) = (0, false);
        var wasTraining = model.training;
        model.eval();
        try
        {
            using (torch.no_grad())
                for (var start = 0; start < frames; start += 1000)
                    using (torch.NewDisposeScope())
                    {
                        var count = Math.Min(1000, frames - start);
                        var x = windows.Gather(torch.arange(start, start + count, dtype: torch.int64), device);
                        var y = f(x).cpu();
                        (width, vector) = y.dim() == 1 ? (1, true) : ((int)y.shape[1], false);
                        values ??= new float[frames * width];
                        y.data<float>().CopyTo(values.AsSpan(start * width, count * width));
                    }
        }
        finally { model.train(wasTraining); }
        return vector ? new NdArray([frames], values!) : new NdArray([frames, width], values!);
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
