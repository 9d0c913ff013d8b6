using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;
using Pipeline.Training.Anomaly;
using Pipeline.Training.Decomposition;

namespace Pipeline.Benchmarks.Demo;

/// <summary>
/// <c>./run demo</c>: makes a synthetic piano piece and a synthetic machine set, runs every model family through
/// the real command-line hosts (train and export with pipeline-train, estimate and score with pipeline-infer),
/// evaluates the results against the known truth, and writes one self-contained HTML report.
/// </summary>
static class DemoRun
{
    public const string Data = "artifacts/demo", Models = "artifacts/models", Report = "artifacts/reports/index.html";

    /// <summary>What the report shows: the evaluations computed here and the commands that made them.</summary>
    public sealed record Results(
        Size Size,
        IReadOnlyList<(string Model, NoteDetectionScores Scores, NoteDetector Detector)> Notes,
        IReadOnlyDictionary<string, (NdArray Truth, NdArray Detected)> Rolls,
        IReadOnlyList<(string Voice, double Sdr, double MixtureSdr)> Separation,
        IReadOnlyList<ModelScores> Anomaly,
        IReadOnlyList<(string Part, string Command)> Commands,
        TimeSpan Elapsed,
        double HostPictureSeconds);

    /// <summary>File scores of one anomaly model on the test clips, as pipeline-infer score printed them.</summary>
    public sealed record ModelScores(string Model, string Folder, IReadOnlyList<(string File, double Score, bool Flagged, bool Anomalous)> Files)
    {
        public IReadOnlyList<double> Normal => [.. Files.Where(f => !f.Anomalous).Select(f => f.Score)];
        public IReadOnlyList<double> Anomalous => [.. Files.Where(f => f.Anomalous).Select(f => f.Score)];
        /// <summary>AUC, pAUC (FPR ≤ 0.1) and the F1 of the exported model's own decisions.</summary>
        public (double Auc, double PartialAuc, double F1, double Precision, double Recall) Metrics()
        {
            var tp = Files.Count(f => f.Flagged && f.Anomalous);
            var fp = Files.Count(f => f.Flagged && !f.Anomalous);
            var fn = Files.Count(f => !f.Flagged && f.Anomalous);
            return (DetectionMetrics.Auc(Normal, Anomalous), DetectionMetrics.PartialAuc(Normal, Anomalous, 0.1),
                tp == 0 ? 0 : 2.0 * tp / (2.0 * tp + fp + fn), tp + fp == 0 ? 0 : (double)tp / (tp + fp), (double)tp / Math.Max(1, tp + fn));
        }
    }

    /// <summary>How much data and training: <see cref="Full"/> for ./run demo, <see cref="Small"/> for the test that runs the whole demo.</summary>
    public sealed record Size(double PianoTrainSeconds, double PianoTestSeconds, int Machines, int TrainClips, int TestNormalClips, double ClipSeconds,
        int NmfIterations, int NmfdIterations, int AutoencoderEpochs, int VaeEpochs)
    {
        public static Size Full { get; } = new(30, 15, 2, 16, 8, 5, 200, 100, 8, 10);
        public static Size Small { get; } = new(6, 4, 2, 4, 2, 2, 40, 20, 2, 2); // two IDs: the machine-ID classifier needs them
    }

    /// <summary>The anomaly detectors trained by pipeline-train anomaly: each model folder and its options.</summary>
    static readonly (string Folder, string[] Options)[] Detectors =
    [
        ("machine-ae", ["--detector", "ae"]),
        ("machine-ae-norm", ["--detector", "ae", "--band-norm", "--aggregation", "auto"]),
        ("machine-idnn", ["--detector", "idnn"]),
        ("machine-id-classifier", ["--detector", "id-classifier", "--aggregation", "auto"]),
        ("machine-clip-stats", ["--detector", "clip-stats"]),
    ];

    /// <summary>Runs the demo with the hosts built in <paramref name="repository"/>, writing under <paramref name="root"/>/artifacts.</summary>
    public static int Run(string repository, string root, Size size, bool quiet)
    {
        var clock = Stopwatch.StartNew();
        Directory.CreateDirectory(root);
        var run = new CommandRunner(repository, root, quiet);
        string I(double x) => x.ToString(CultureInfo.InvariantCulture);
        var step = 0;
        void Step(string what)
        {
            step++;
            Console.Error.WriteLine($"\n[{step}/9 {clock.Elapsed:mm\\:ss}] {what}");
        }
        string D(string path) => $"{Data}/{path}";
        string M(string path) => $"{Models}/{path}";
        string At(string path) => Path.Combine(root, path);

        Step("making the data: a piano piece with known notes and a machine sound set");
        run.Run("data", "pipeline-train", "synth", "piano", "--force", "--out", D("piano"), "--seed", "1", "--train-seconds", I(size.PianoTrainSeconds), "--test-seconds", I(size.PianoTestSeconds));
        run.Run("data", "pipeline-train", "synth", "machine", "--force", "--out", D("machine"), "--seed", "1", "--machines", I(size.Machines), "--train", I(size.TrainClips),
            "--test-normal", I(size.TestNormalClips), "--anomalies", "1", "--seconds", I(size.ClipSeconds), "--quiet");

        Step("decomposing the piece: NMF (β = 1) and NMFD, exported to ONNX");
        run.Run("piano", "pipeline-train", "decompose", "--force", "--model", "nmf", "--beta", "1", "--rank", "8", "--max-iter", I(size.NmfIterations), "--seed", "1",
            "--input", D("piano/V_train.npy"), "--sample-rate", "22050", "--n-fft", "2048", "--hop-length", "512", "--out", M("piano-nmf"), "--json");
        run.Run("piano", "pipeline-train", "decompose", "--force", "--model", "nmfd", "--beta", "1", "--rank", "8", "--window", "6", "--max-iter", I(size.NmfdIterations), "--seed", "1",
            "--input", D("piano/V_train.npy"), "--sample-rate", "22050", "--n-fft", "2048", "--hop-length", "512", "--out", M("piano-nmfd"), "--json");

        Step("estimating activations of the held-out part with ONNX Runtime");
        var notes = new List<(string, NoteDetectionScores, NoteDetector)>();
        var rolls = new Dictionary<string, (NdArray, NdArray)>();
        var rollTrain = NpyFile.Read(At(D("piano/roll_train.npy")));
        var rollTest = NpyFile.Read(At(D("piano/roll_test.npy")));
        foreach (var model in new[] { "nmf", "nmfd" })
        {
            run.Run("piano", "pipeline-infer", "activations", "--model", M($"piano-{model}"), "--input", D("piano/V_test.npy"), "--out", D($"piano/H_test_{model}.npy"));
            var w = NpyFile.Read(At(M($"piano-{model}/W.npy")));
            var detector = NoteDetector.Calibrate(NoteDetector.Activity(w, NpyFile.Read(At(M($"piano-{model}/H.npy")))), rollTrain);
            var detected = detector.Detect(NoteDetector.Activity(w, NpyFile.Read(At(D($"piano/H_test_{model}.npy")))));
            var scores = NoteDetector.Score(detected, rollTest);
            notes.Add((model.ToUpperInvariant(), scores, detector));
            rolls[model.ToUpperInvariant()] = (rollTest, detected);
            Console.Error.WriteLine($"  {model.ToUpperInvariant()} notes on the held-out part: precision {scores.Precision:F3}, recall {scores.Recall:F3}, F {scores.F:F3}");
        }

        Step("separating the two voices of the held-out mixture");
        run.Run("piano", "pipeline-train", "separation", "--force", "--source", $"low={D("piano/low_train.wav")}", "--source", $"high={D("piano/high_train.wav")}",
            "--rank", "8", "--seed", "1", "--out", M("piano-voices"));
        run.Run("piano", "pipeline-infer", "separate", "--force", "--model", M("piano-voices"), "--input", D("piano/test.wav"), "--out", D("piano/separated"));
        var mixture = AudioFile.Read(At(D("piano/test.wav"))).Samples;
        var separation = new List<(string, double, double)>();
        foreach (var voice in new[] { "low", "high" })
        {
            var truth = AudioFile.Read(At(D($"piano/{voice}_test.wav"))).Samples;
            var estimate = AudioFile.Read(At(D($"piano/separated/{voice}.wav"))).Samples;
            separation.Add((voice, Sdr(truth, estimate), Sdr(truth, mixture)));
            Console.Error.WriteLine($"  {voice} voice: SDR {separation[^1].Item2:F1} dB (the mixture itself: {separation[^1].Item3:F1} dB)");
        }

        Step("training the DCASE 2020 Task 2 baseline autoencoder, the same with band normalisation, the interpolation network (IDNN), the machine-ID classifier and clip statistics on the machine set");
        foreach (var (folder, options) in Detectors)
            run.Run("machine", "pipeline-train", ["anomaly", "--force", .. options, "--data", D("machine"), "--seed", "1", "--out", M(folder), "--json",
                .. options.Contains("clip-stats") ? Array.Empty<string>() : ["--epochs", I(size.AutoencoderEpochs), "--lr", "1e-3", "--final-lr", "1e-4"]]);
        Step("training the mel-cepstrum VAE on the machine set");
        run.Run("machine", "pipeline-train", "vae", "--force", "--input", D("machine/train_normal"), "--epochs", I(size.VaeEpochs), "--seed", "1", "--out", M("machine-vae"), "--json");
        Step("fitting Gaussian mixtures by EM: on log-mel frames, and on one feature to show the density");
        run.Run("machine", "pipeline-train", "gmm", "--force", "--input", D("machine/train_normal"), "--components", "8", "--covariance", "diag", "--seed", "1",
            "--out", M("machine-gmm"), "--json");
        WriteFrameLevels(At(D("machine/train_normal")), At(D("machine/frame_level.npy")));
        run.Run("machine", "pipeline-train", "gmm", "--force", "--input", D("machine/frame_level.npy"), "--components", "3", "--covariance", "full", "--tol", "1e-7", "--seed", "1",
            "--out", M("level-gmm"), "--json");

        Step("scoring the test clips with each exported model in ONNX Runtime");
        var anomaly = new List<ModelScores>();
        foreach (var (name, folder) in new[] { ("autoencoder", "machine-ae"), ("autoencoder, band-normalised", "machine-ae-norm"), ("IDNN", "machine-idnn"),
            ("ID classifier", "machine-id-classifier"), ("clip statistics", "machine-clip-stats"), ("VAE", "machine-vae"), ("GMM", "machine-gmm") })
        {
            var output = run.Run("machine", "pipeline-infer", "score", "--model", M(folder), D("machine/test_normal"), D("machine/test_anomaly"), "--json");
            var files = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line =>
            {
                using var json = JsonDocument.Parse(line);
                var file = json.RootElement.GetProperty("file").GetString()!;
                return (file, json.RootElement.GetProperty("score").GetDouble(), json.RootElement.GetProperty("anomaly").GetBoolean(), file.Contains("test_anomaly"));
            }).ToList();
            anomaly.Add(new ModelScores(name, folder, files));
            var m = anomaly[^1].Metrics();
            Console.Error.WriteLine($"  {name,-12} AUC {m.Auc:F3}  pAUC {m.PartialAuc:F3}  F1 {m.F1:F3}");
        }

        Step("writing the report");
        var results = new Results(size, notes, rolls, separation, anomaly, run.Commands, clock.Elapsed, run.PictureSeconds);
        DemoReport.Write(root, results);
        var best = notes.MaxBy(n => n.Item2.F);
        var bestAnomaly = anomaly.MaxBy(a => a.Metrics().Auc)!;
        Console.WriteLine();
        Console.WriteLine($"report: {Report}    models: {Models}/ (piano-nmf, piano-nmfd, piano-voices, {string.Join(", ", Detectors.Select(d => d.Folder))}, machine-vae, machine-gmm)    data: {Data}/");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"notes (held-out, frame level): {string.Join(", ", notes.Select(n => $"{n.Item1} F {n.Item2.F:F2}"))}; voices SDR {string.Join(", ", separation.Select(s => $"{s.Item1} {s.Item2:F1} dB"))}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"anomaly AUC: {string.Join(", ", anomaly.Select(a => $"{a.Model} {a.Metrics().Auc:F3}"))} (best {bestAnomaly.Model}); done in {clock.Elapsed:mm\\:ss}"));
        return 0;
    }

    /// <summary>Signal-to-distortion ratio in dB of an estimate of <paramref name="truth"/> (the shorter length counts).</summary>
    public static double Sdr(float[] truth, float[] estimate)
    {
        var n = Math.Min(truth.Length, estimate.Length);
        double signal = 0, error = 0;
        for (var i = 0; i < n; i++)
        {
            signal += (double)truth[i] * truth[i];
            var d = (double)truth[i] - estimate[i];
            error += d * d;
        }
        return 10 * Math.Log10(signal / Math.Max(error, 1e-20));
    }

    /// <summary>One number per frame of every training clip, the mean of its 64-band log-mel: a 1-D set for a readable GMM density.</summary>
    static void WriteFrameLevels(string directory, string output)
    {
        var frontEnd = FrontEndConfig.DcaseLogMel with { ContextBefore = 0, ContextAfter = 0 };
        var extractor = new FeatureExtractor(frontEnd);
        var levels = new List<float>();
        foreach (var file in AudioFiles.Find(directory))
        {
            var features = extractor.ExtractFile(file);
            for (var r = 0; r < features.Rows; r++)
            {
                double sum = 0;
                for (var c = 0; c < features.Columns; c++) sum += features.Data[r * features.Columns + c];
                levels.Add((float)(sum / features.Columns));
            }
        }
        NpyFile.Write(output, new NdArray([levels.Count], [.. levels]));
    }
}
