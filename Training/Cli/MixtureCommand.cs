using System.CommandLine;
using System.Text.Json;
using Pipeline.Shared.Threading;
using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Cli;
using Pipeline.Shared.Errors;
using Pipeline.Shared.Manifest;
using Pipeline.Training.Anomaly;
using Pipeline.Training.Engine;
using Pipeline.Training.Export;
using Pipeline.Training.Mixtures;
using Pipeline.Training.Plots;

/// <summary><c>pipeline-train gmm</c>: a Gaussian mixture on a feature matrix or on audio, exported as a scorer.</summary>
static class MixtureCommand
{
    public static Command Create(CommonOptions cli, Option<Pipeline.Inference.Runtime.Device> device)
    {
        var input = AudioInputs.InputOption("A .npy matrix (N, D) or (N); or audio files, a directory or a glob (log-mel frames)");
        var skipBad = AudioInputs.SkipBadOption();
        var output = new Option<string>("--out", "-o") { Description = "Model folder to write", Required = true };
        var components = new Option<int>("--components", "-k") { Description = "Mixture components K", DefaultValueFactory = _ => 8 };
        var covariance = new Option<string>("--covariance") { Description = "diag or full", DefaultValueFactory = _ => "full" };
        var method = new Option<string>("--method") { Description = "em or gradient", DefaultValueFactory = _ => "em" };
        var tol = new Option<double>("--tol") { Description = "Stop when the mean log-likelihood moves less than this (EM: between iterations; gradient: over 10 steps)", DefaultValueFactory = _ => 1e-3 };
        var maxIter = new Option<int>("--max-iter") { Description = "EM iterations per restart", DefaultValueFactory = _ => 100 };
        var restarts = new Option<int>("--restarts") { Description = "EM restarts from k-means++ (the best is kept)", DefaultValueFactory = _ => 1 };
        var regCovar = new Option<double>("--reg-covar") { Description = "Floor of every variance (EM adds it to covariance diagonals; the gradient fit projects onto it)", DefaultValueFactory = _ => 1e-6 };
        var steps = new Option<int>("--steps") { Description = "Gradient: full-batch Adam steps", DefaultValueFactory = _ => 300 };
        var lr = new Option<double>("--lr") { Description = "Gradient: learning rate", DefaultValueFactory = _ => 0.05 };
        var seed = new Option<long>("--seed") { Description = "Seed of the k-means++ start", DefaultValueFactory = _ => 0 };
        var fpr = new Option<double>("--target-fpr") { Description = "Threshold: this share of the training files (or samples) scores above it", DefaultValueFactory = _ => 0.1 };
        var command = new Command("gmm", """
            Fit a Gaussian mixture by EM or by gradient ascent and export its log-likelihood graph as an anomaly scorer
            (file score: negative mean log-likelihood of the file's log-mel frames).

            Examples:
              pipeline-train gmm --input X.npy --components 3 --covariance full --method em --out artifacts/models/gmm
              pipeline-train gmm --input artifacts/data/machine/train_normal --components 16 --covariance diag --out artifacts/models/gmm-machine
            """) { input, output, components, covariance, method, tol, maxIter, restarts, regCovar, steps, lr, seed, fpr, skipBad, cli.Force };
        command.SetAction(parse =>
        {
            var log = cli.Log(parse);
            var where = parse.GetValue(device);
            var resolved = TorchDevice.Resolve(where); // a missing CUDA is refused before any file is read
            var type = parse.GetValue(covariance) switch
            {
                "diag" => CovarianceType.Diagonal,
                "full" => CovarianceType.Full,
                var other => throw new InvalidOptionException($"--covariance must be diag or full, not '{other}'"),
            };
            var outDir = parse.GetValue(output)!;
            using var outputs = cli.Outputs(parse);
            outputs.DeclareFolder(outDir, ModelFolder.Kind);
            var inputs = parse.GetValue(input)!;
            foreach (var path in inputs) outputs.DeclareInput(path);
            var source = inputs[0];
            var logMel = FrontEndConfig.DcaseLogMel with { ContextBefore = 0, ContextAfter = 0 };
            var (data, files) = AudioInputs.MatrixOrAudio(inputs, logMel, parse.GetValue(skipBad), log);
            var frontEnd = files is null ? null : logMel;
            if (files is not null) log.WriteLine($"{files.Count} audio file(s) → 64-band log-mel frames");
            var mixture = new GaussianMixture(parse.GetValue(components), type, resolved);
            var history = new List<double>();
            var isEm = parse.GetValue(method) == "em";
            using var bar = new ProgressBar(log, isEm ? parse.GetValue(maxIter) * parse.GetValue(restarts) : parse.GetValue(steps), $"gmm {parse.GetValue(method)}");
            var progress = new SynchronousProgress<GmmProgress>(p => { history.Add(p.MeanLogLikelihood); bar.Update(history.Count, $"mean log-likelihood {p.MeanLogLikelihood:F4}"); });
            var oneDimensional = data.Shape.Length == 1 || data.Columns == 1;
            var snapshots = new List<GaussianMixture>();
            Action<GaussianMixture, int>? snapshot = oneDimensional ? (m, step) => { if (snapshots.Count < 200) snapshots.Add(m.Clone()); } : null;
            GmmFitResult result = parse.GetValue(method) switch
            {
                "em" => mixture.FitEm(data, new GmmEmOptions
                {
                    Tolerance = parse.GetValue(tol), MaxIterations = parse.GetValue(maxIter), Restarts = parse.GetValue(restarts),
                    RegCovar = parse.GetValue(regCovar), Seed = parse.GetValue(seed),
                }, progress, snapshot),
                "gradient" => MixtureGradientFit.Fit(mixture, data, new GmmGradientOptions
                {
                    Steps = parse.GetValue(steps), LearningRate = parse.GetValue(lr), Seed = parse.GetValue(seed), RegCovar = parse.GetValue(regCovar),
                    Tolerance = parse.GetValue(tol), Device = where,
                }, progress, snapshot, CommandLineHost.Cancellation),
                var other => throw new InvalidOptionException($"--method must be em or gradient, not '{other}'"),
            };
            bar.Dispose();
            foreach (var warning in result.Warnings) log.WriteLine($"warning: {warning}");
            var summary = new TrainingSummary((int)parse.GetValue(seed), result.Iterations, parse.GetValue(method) == "em" ? parse.GetValue(maxIter) : parse.GetValue(steps),
                parse.GetValue(tol), result.Converged, -result.MeanLogLikelihood, data.Shape, Path.GetFileName(source.TrimEnd('/')));
            var threshold = double.NaN;
            outputs.WriteFolder(outDir, folder =>
            {
                // threshold: the training data's own scores (per file for audio, per sample for a matrix) at the target FPR
                var matrix = data.Shape.Length == 1 ? new NdArray([data.Shape[0], 1], data.Data) : data;
                threshold = ServingCalibration.ExportCalibrated(folder,
                    scoring => MixtureExport.Export(mixture, folder, Path.GetFileName(Path.GetFullPath(outDir).TrimEnd('/')), frontEnd, scoring, summary),
                    new AnomalyScoring("mean", 0, 0, ""),
                    files is null ? ServingCalibration.Samples(matrix) : ServingCalibration.FeatureFiles(files), parse.GetValue(fpr)).Threshold;
                MixtureFigures.Write(Path.Combine(folder, "evaluation"), history, parse.GetValue(method) == "em" ? "EM iteration" : "gradient step", mixture, data, snapshots);
            });
            outputs.Commit();
            var (bic, aic) = (mixture.Bic(data), mixture.Aic(data));
            log.WriteLine($"{parse.GetValue(method)}: {result.Iterations} steps, {(result.Converged ? "converged" : "stopped")}; mean log-likelihood {result.MeanLogLikelihood:F4}, BIC {bic:F1}, AIC {aic:F1}");
            log.WriteLine($"weights {string.Join(" ", mixture.Weights.Select(w => w.ToString("F3")))}; threshold {threshold:G5}; wrote {outDir}");
            cli.Summary(parse, new Dictionary<string, object?>
                {
                    ["method"] = parse.GetValue(method)!, ["components"] = mixture.Components, ["dimensions"] = mixture.Dimensions,
                    ["covariance"] = parse.GetValue(covariance)!, ["iterations"] = result.Iterations, ["converged"] = result.Converged,
                    ["mean_log_likelihood"] = result.MeanLogLikelihood, ["bic"] = bic, ["aic"] = aic, ["weights"] = mixture.Weights,
                    ["means"] = mixture.Means, ["threshold"] = threshold, ["warnings"] = result.Warnings, ["model"] = outDir,
                    ["pictures_seconds"] = Figure.TimeSpent.TotalSeconds,
                });
            return CommandLineHost.Success;
        });
        return command;
    }
}
