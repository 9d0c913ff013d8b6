using System.Globalization;
using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;
using Pipeline.Training.Anomaly;
using Pipeline.Training.Plots;
using Pipeline.Training.Reports;
using static System.FormattableString;

namespace Pipeline.Benchmarks.Demo;

/// <summary>The demo's HTML report: every figure the runs wrote, the evaluations, the manifests and the commands.</summary>
static class DemoReport
{

    public static void Write(string root, DemoRun.Results results)
    {
        string At(string path) => Path.Combine(root, path);
        string Model(string name, string file) => At($"{DemoRun.Models}/{name}/{file}");
        var report = new HtmlReport("Pipeline demo");
        var size = results.Size;
        // the report's own figures first, so the summary can say what every picture of the demo cost
        var truthRoll = Figure.Png(PianoRollFigure.Draw("Held-out piano roll (truth)", results.Rolls.First().Value.Truth, null, Pitches, SecondsPerFrame), 900, 320);
        var rolls = results.Rolls.ToDictionary(r => r.Key, r => Figure.Png(PianoRollFigure.Draw($"{r.Key}: detected notes against the truth", r.Value.Truth, r.Value.Detected, Pitches, SecondsPerFrame), 900, 320));
        var thresholds = results.Anomaly.Select(a => Threshold(Model(a.Folder, "manifest.json"))).ToList();
        var roc = Figure.Svg(RocChart.Draw("ROC on the test clips", [.. results.Anomaly.Zip(thresholds, (a, t) => new RocCurve(a.Model, a.Normal, a.Anomalous, t))]), 640, 560);
        var histograms = results.Anomaly.Zip(thresholds, (a, t) => Figure.Svg(ScoreHistogram.Draw($"{a.Model}: anomaly scores of the test clips", a.Normal, a.Anomalous, t, 24))).ToList();
        var spectrograms = new List<(string Caption, byte[] Png)>();
        foreach (var (caption, file) in new[] { ("the held-out mixture", "test.wav") }.Concat(results.Separation.SelectMany(s => new[]
                     { ($"{s.Voice} voice, the truth", $"{s.Voice}_test.wav"), ($"{s.Voice} voice, separated", $"separated/{s.Voice}.wav") })))
        {
            var clip = AudioFile.Read(At($"{DemoRun.Data}/piano/{file}"));
            var magnitude = new Stft(2048, 512).Magnitude(clip.Samples, 1f, file);
            var (plot, _) = HeatMapFigure.Draw(magnitude, $"Spectrogram: {caption}", HeatMapAxis.Hertz(clip.SampleRate, 2048), HeatMapAxis.Seconds(512, clip.SampleRate));
            if (plot is not null) spectrograms.Add((caption, Figure.Png(plot, 640, 320)));
        }
        var pictures = results.HostPictureSeconds + Figure.TimeSpent.TotalSeconds;

        report.Section("summary", "Summary", Invariant($"Everything below was made by ./run demo in {results.Elapsed:mm\\:ss} (min:s) on {Environment.ProcessorCount} cores: synthetic data with known truth, models trained and exported by pipeline-train, and every held-out number computed from what pipeline-infer (ONNX Runtime, no training code) returned. Drawing every picture (ScottPlot) took {pictures:F1} s of it ({100 * pictures / results.Elapsed.TotalSeconds:F1} %)."));
        report.Table(["task", "model", "result on held-out data"],
        [
            .. results.Notes.Select(n => (IReadOnlyList<string>)["note detection (frame level)", n.Model, Invariant($"P {n.Scores.Precision:F3}  R {n.Scores.Recall:F3}  F {n.Scores.F:F3}")]),
            .. results.Separation.Select(s => (IReadOnlyList<string>)["voice separation", $"supervised NMF, {s.Voice} voice", Invariant($"SDR {s.Sdr:F1} dB (mixture {s.MixtureSdr:F1} dB)")]),
            .. results.Anomaly.Select(a => { var m = a.Metrics(); return (IReadOnlyList<string>)["anomalous sound detection", a.Model, Invariant($"AUC {m.Auc:F3}  pAUC {m.PartialAuc:F3}  F1 {m.F1:F3}")]; }),
        ]);

        report.Section("piano-data", "The piano piece", Invariant($"Two voices over eight pitches: a low accompaniment (A2, C3, E3, G3) that plays dyads one time in three, and a melody (C5, D5, E5, G5) above it. Each note is a slightly inharmonic tone whose partials decay exponentially, the upper ones faster. {size.PianoTrainSeconds} s train the models; a different {size.PianoTestSeconds} s is held out. V is the magnitude STFT (n_fft 2048, hop 512 at 22 050 Hz)."));
        report.Png("held-out piano roll (truth), pitches bottom to top", truthRoll);
        foreach (var model in new[] { "nmf", "nmfd" })
        {
            var name = model.ToUpperInvariant();
            report.Section($"piano-{model}", $"{name} of the training part",
                model == "nmf" ? Invariant($"V ≈ W·H by β-divergence multiplicative updates, β = 1 (Kullback-Leibler), 8 components, {size.NmfIterations} iterations. Heat maps in dB, −60 dB floor, viridis.")
                               : Invariant($"V ≈ Σ_τ W_τ·shift(H, τ): each component is a 6-frame spectro-temporal template, so attack and decay are part of the template. β = 1, 8 components, {size.NmfdIterations} iterations."));
            foreach (var picture in new[] { "V", "W", "H", "WH" })
                report.Png(picture switch
                {
                    "V" => "V, the training spectrogram",
                    "W" => model == "nmf" ? "W, the templates (one column per component)" : "W, the templates (each component's 6 lags side by side)",
                    "H" => "H, the activations",
                    _ => "W·H, the reconstruction",
                }, File.ReadAllBytes(Model($"piano-{model}", $"evaluation/{picture}.png")));
            report.Svg("loss per iteration", File.ReadAllText(Model($"piano-{model}", "evaluation/loss.svg")));
        }

        report.Section("piano-notes", "Note detection on the held-out part", "The components carry no pitch labels. On the training part each pitch is paired with the component whose activity follows its piano-roll row best, and one threshold (a share of each component's training peak) is chosen for the best training F. The held-out activations come from pipeline-infer activations (templates fixed, ONNX Runtime) and are judged with those pairs and that threshold only. Scores count (pitch, frame) cells.");
        report.Table(["model", "precision", "recall", "F", "true pos.", "false pos.", "false neg.", "threshold", "component of A2 C3 E3 G3 C5 D5 E5 G5"],
            results.Notes.Select(n => (IReadOnlyList<string>)[n.Model, F3(n.Scores.Precision), F3(n.Scores.Recall), F3(n.Scores.F),
                n.Scores.TruePositives.ToString(CultureInfo.InvariantCulture), n.Scores.FalsePositives.ToString(CultureInfo.InvariantCulture),
                n.Scores.FalseNegatives.ToString(CultureInfo.InvariantCulture), F3(n.Detector.Threshold), string.Join(" ", n.Detector.ComponentOfPitch)]));
        foreach (var (model, png) in rolls)
            report.Png($"{model}: detected vs truth (green hit, orange missed, blue false alarm)", png);

        report.Section("piano-separation", "Separating the voices", "pipeline-train separation learns 8 NMF templates on each voice's solo training recording; pipeline-infer separate estimates activations on the held-out mixture, masks it with W_s·H_s / W·H and inverts the STFT with the mixture's phase.");
        report.Table(["voice", "SDR of the estimate (dB)", "SDR of the mixture (dB)", "improvement (dB)"],
            results.Separation.Select(s => (IReadOnlyList<string>)[s.Voice, F1(s.Sdr), F1(s.MixtureSdr), F1(s.Sdr - s.MixtureSdr)]));
        report.Audio("held-out mixture", Wav(At($"{DemoRun.Data}/piano/test.wav")));
        foreach (var s in results.Separation)
            report.Audio($"{s.Voice} voice, separated", Wav(At($"{DemoRun.Data}/piano/separated/{s.Voice}.wav")));
        foreach (var (caption, png) in spectrograms) report.Png($"spectrogram of {caption} (n_fft 2048, hop 512)", png);

        report.Section("machine", "Anomalous sound detection", Invariant($"A ToyADMOS-like set from pipeline-train synth machine: {size.Machines} machine ID(s), {size.TrainClips} normal {size.ClipSeconds}-s training clips each; the test part has {size.TestNormalClips} normal clips and {MachineSynth.AllKinds.Count * MachineSynth.DefaultLevelsDb.Count} faulty ones per ID ({MachineSynth.AllKinds.Count} kinds, from brief clicks to a slow change of speed, each at {string.Join(", ", MachineSynth.DefaultLevelsDb)} dB relative to the machine). Each detector (the baseline autoencoder, the same with band-normalised errors and the aggregation chosen on validation normals, the interpolation network, the machine-ID classifier, clip statistics (each clip's band means, spreads and maxima against its machine ID's normal clips), the VAE and the GMM) is trained on normal clips only, exported, and scores the test clips with pipeline-infer score; thresholds and aggregations come from normal clips only. F1 is that of the exported model's own decisions (its manifest's threshold)."));
        report.Table(["model", "AUC", "pAUC (FPR ≤ 0.1)", "F1", "precision", "recall", "normal / anomalous clips"],
            results.Anomaly.Select(a =>
            {
                var m = a.Metrics();
                return (IReadOnlyList<string>)[a.Model, F3(m.Auc), F3(m.PartialAuc), F3(m.F1), F3(m.Precision), F3(m.Recall), $"{a.Normal.Count} / {a.Anomalous.Count}"];
            }));
        var ids = results.Anomaly[0].Files.Select(f => MachineId(f.File)).Distinct().Order().ToList();
        report.Table(["model", .. ids.Select(id => $"AUC id_{id}")],
            results.Anomaly.Select(a => (IReadOnlyList<string>)[a.Model, .. ids.Select(id =>
            {
                var files = a.Files.Where(f => MachineId(f.File) == id).ToList();
                return F3(DetectionMetrics.Auc([.. files.Where(f => !f.Anomalous).Select(f => f.Score)], [.. files.Where(f => f.Anomalous).Select(f => f.Score)]));
            })]), "AUC per machine ID");
        var faults = results.Anomaly[0].Files.Where(f => f.Anomalous).Select(f => AnomalyDataset.Fault(f.File)).ToList();
        var kinds = faults.Select(f => f.Kind ?? "?").Distinct().Order(StringComparer.Ordinal).ToList();
        var levels = faults.Select(f => f.Level ?? "?").Distinct().OrderBy(AnomalyTraining.LevelOrder).ToList();
        string AucOf(ModelScoresView a, Func<string, bool> anomalous) => F3(DetectionMetrics.Auc([.. a.Normal], [.. a.AnomalousFiles.Where(f => anomalous(f.File)).Select(f => f.Score)]));
        var views = results.Anomaly.Select(a => new ModelScoresView(a.Model, a.Normal, [.. a.Files.Where(f => f.Anomalous).Select(f => (f.File, f.Score))])).ToList();
        report.Table(["model", .. kinds], views.Select(a => (IReadOnlyList<string>)[a.Model, .. kinds.Select(k => AucOf(a, f => (AnomalyDataset.Fault(f).Kind ?? "?") == k))]),
            "AUC per fault kind (each kind's clips against every normal clip), side by side");
        report.Table(["model", .. levels], views.Select(a => (IReadOnlyList<string>)[a.Model, .. levels.Select(l => AucOf(a, f => (AnomalyDataset.Fault(f).Level ?? "?") == l))]),
            "AUC per fault level (relative to the machine, while the fault sounds)");
        report.Svg("ROC curves of every detector, each with its calibrated threshold's operating point", roc);
        foreach (var (a, svg) in results.Anomaly.Zip(histograms))
            report.Svg($"{a.Model}: score histogram with the threshold", svg);

        report.Section("training", "Training curves and reconstructions");
        report.Heading("Autoencoder (DCASE 2020 Task 2 baseline)");
        report.Svg("training and validation loss per epoch", File.ReadAllText(Model("machine-ae", "evaluation/loss.svg")));
        report.Heading("VAE on mel-cepstra");
        report.Svg("loss terms per epoch", File.ReadAllText(Model("machine-vae", "evaluation/loss.svg")));
        report.Svg("one mel-cepstral coefficient over time: input and reconstruction", File.ReadAllText(Model("machine-vae", "evaluation/coefficient.svg")));
        report.Svg("two coefficients: inputs and reconstructions", File.ReadAllText(Model("machine-vae", "evaluation/scatter.svg")));
        report.Heading("Gaussian mixtures (EM)");
        report.Svg("8 diagonal components on 64-band log-mel frames: mean log-likelihood per iteration", File.ReadAllText(Model("machine-gmm", "evaluation/loglikelihood.svg")));
        report.Svg("3 components on each frame's mean log-mel level: the fitted density", File.ReadAllText(Model("level-gmm", "evaluation/density.svg")));
        report.Png("the same fit, one frame per EM iteration (animated PNG)", File.ReadAllBytes(Model("level-gmm", "evaluation/convergence.png")));

        report.Section("models", "The exported models", "Each folder holds the ONNX graph(s) and manifest.json: the contract between training and inference (kind, tensor names, shapes and meanings, front end, scoring rule, training summary, SHA-256 of every file).");
        foreach (var folder in new[] { "piano-nmf", "piano-nmfd", "piano-voices", "machine-ae", "machine-ae-norm", "machine-idnn", "machine-id-classifier", "machine-clip-stats", "machine-vae", "machine-gmm", "level-gmm" })
            report.Code(File.ReadAllText(Model(folder, "manifest.json")), $"{DemoRun.Models}/{folder}/manifest.json");

        report.Section("reproduce", "Reproduce", "From the repository root, after ./run setup. The demo ran exactly these commands (./run demo runs them all and computes the evaluations above in Benchmarks/Demo).");
        foreach (var part in results.Commands.Select(c => c.Part).Distinct())
            report.Heading(part switch { "data" => "The data", "piano" => "The piano piece", _ => "The machine set" })
                .Code(string.Join("\n", ["export PATH=\"$PWD/artifacts/bin:$PATH\"", .. results.Commands.Where(c => c.Part == part).Select(c => c.Command)]));
        report.Paragraph($"Computed inside the demo rather than by a host: the note-detection and separation scores, the AUC tables (from the JSON lines of pipeline-infer score), and {DemoRun.Data}/machine/frame_level.npy (each training frame's mean log-mel, the 1-D data of the level GMM).");

        Directory.CreateDirectory(Path.GetDirectoryName(At(DemoRun.Report))!);
        report.Save(At(DemoRun.Report));
    }

    /// <summary>One detector's scores as the per-kind tables read them.</summary>
    sealed record ModelScoresView(string Model, IReadOnlyList<double> Normal, IReadOnlyList<(string File, double Score)> AnomalousFiles);

    static string MachineId(string file) => Path.GetFileName(file) is var name && name.StartsWith("id_", StringComparison.Ordinal) ? name[3..5] : "?";

    static string F3(double x) => x.ToString("F3", CultureInfo.InvariantCulture);

    static string F1(double x) => x.ToString("F1", CultureInfo.InvariantCulture);

    /// <summary>A WAV re-encoded as 16-bit PCM for embedding (half the size of float).</summary>
    static byte[] Wav(string path)
    {
        var temporary = Path.Combine(Path.GetTempPath(), $"pipeline-demo-{Environment.ProcessId}.wav");
        try
        {
            AudioFile.Write(temporary, AudioFile.Read(path), AudioEncoding.Pcm16);
            return File.ReadAllBytes(temporary);
        }
        finally { File.Delete(temporary); }
    }

    /// <summary>The piece's pitches, bottom row first.</summary>
    static readonly string[] Pitches = ["A2", "C3", "E3", "G3", "C5", "D5", "E5", "G5"];

    /// <summary>The piano V's frame period: hop 512 at 22 050 Hz.</summary>
    const double SecondsPerFrame = 512.0 / 22050;

    /// <summary>The calibrated threshold in a model's manifest.</summary>
    static double? Threshold(string manifest)
    {
        using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(manifest));
        return json.RootElement.TryGetProperty("anomaly", out var anomaly) && anomaly.TryGetProperty("threshold", out var threshold) ? threshold.GetDouble() : null;
    }
}
