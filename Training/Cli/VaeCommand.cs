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
using Pipeline.Training.Plots;
using Pipeline.Training.Networks;
using Pipeline.Training.Vae;

/// <summary><c>pipeline-train vae</c>: the mel-cepstrum VAE (or a feature matrix), exported as a scorer.</summary>
static class VaeCommand
{
    public static Command Create(CommonOptions cli, Option<Pipeline.Inference.Runtime.Device> device)
    {
        var defaults = new VaeTrainingOptions();
        var input = AudioInputs.InputOption("Audio files, a directory or a glob (mel-cepstra, the vae-mcep preset); or a .npy matrix (N, D)");
        var skipBad = AudioInputs.SkipBadOption();
        var output = new Option<string>("--out", "-o") { Description = "Model folder to write", Required = true };
        var epochs = new Option<int>("--epochs") { Description = "Epochs (the recipe: 50)", DefaultValueFactory = _ => defaults.Epochs };
        var batch = new Option<int>("--batch-size") { Description = "Samples per mini-batch", DefaultValueFactory = _ => defaults.BatchSize };
        var lr = new Option<double>("--lr") { Description = "Adam learning rate", DefaultValueFactory = _ => defaults.LearningRate };
        var latent = new Option<int>("--latent") { Description = "Latent dimensions", DefaultValueFactory = _ => defaults.Latent };
        var hidden = new Option<string>("--hidden") { Description = "Encoder widths", DefaultValueFactory = _ => string.Join(",", defaults.Hidden) };
        var recipeInit = new Option<bool>("--recipe-init") { Description = "The recipe's weight initialisation (normal, std 2/fan-in, zero biases) instead of PyTorch's" };
        var seed = new Option<long>("--seed") { Description = "Seed of weights, sampling and shuffling", DefaultValueFactory = _ => 0 };
        var order = new Option<int>("--order") { Description = "Mel-cepstrum order for audio input (c0 is dropped)", DefaultValueFactory = _ => 39 };
        var coefficient = new Option<int>("--plot-coefficient") { Description = "Coefficient shown over time in the reconstruction plot", DefaultValueFactory = _ => 0 };
        var stateDict = new Option<string?>("--state-dict") { Description = "Also write the trained network's state dict: PyTorch's format (torch.load reads it), or safetensors for a .safetensors name" };
        var resume = new Option<bool>("--resume") { Description = "Continue from the checkpoint beside the output folder (OUT.checkpoint, written after every epoch)" };
        var fpr = new Option<double>("--target-fpr") { Description = "Threshold: this share of the training files (or samples) scores above it", DefaultValueFactory = _ => 0.1 };
        var command = new Command("vae", """
            Train the mel-cepstrum variational autoencoder (Gaussian reconstruction NLL + KL, Adam) and export it: an
            encoder/reconstruction/score graph and a decoder graph, normalisation included.

            Example:
              pipeline-train vae --input recordings/ --epochs 50 --out artifacts/models/vae
            """) { input, output, epochs, batch, lr, latent, hidden, recipeInit, seed, order, coefficient, fpr, stateDict, resume, skipBad, cli.Force };
        command.SetAction(parse =>
        {
            var log = cli.Log(parse);
            var outDir = parse.GetValue(output)!;
            using var outputs = cli.Outputs(parse);
            outputs.DeclareFolder(outDir, ModelFolder.Kind);
            if (parse.GetValue(stateDict) is { } stateDictPath) outputs.DeclareFile(stateDictPath);
            var checkpoint = outDir.TrimEnd('/') + ".checkpoint"; // beside the model, named as the user named it
            if (parse.GetValue(resume) && !File.Exists(checkpoint))
                throw new InvalidOptionException($"--resume: there is no checkpoint at {checkpoint} (it is written after every epoch and removed when a job finishes); run without --resume to start from the beginning");
            var inputs = parse.GetValue(input)!;
            foreach (var path in inputs) outputs.DeclareInput(path);
            var source = inputs[0];
            // a missing CUDA is refused before any file is read; the VAE's steps are small, so it sets its own thread count
            var where = TorchDevice.Describe(TorchDevice.Resolve(parse.GetValue(device)), TorchDevice.SmallWorkThreadCount(defaults.Threads));
            var melCepstrum = FrontEndConfig.VaeMelCepstrum with { Order = parse.GetValue(order) };
            var (data, files) = AudioInputs.MatrixOrAudio(inputs, melCepstrum, parse.GetValue(skipBad), log);
            var frontEnd = files is null ? null : melCepstrum;
            if (files is not null) log.WriteLine($"{files.Count} audio file(s) → mel-cepstra of order {melCepstrum.Order} (c0 dropped)");
            var widths = OptionParsing.Widths(parse.GetValue(hidden)!, "--hidden", string.Join(",", defaults.Hidden));
            var options = defaults with
            {
                Epochs = parse.GetValue(epochs), BatchSize = parse.GetValue(batch), LearningRate = parse.GetValue(lr), Latent = parse.GetValue(latent),
                Hidden = widths, RecipeInit = parse.GetValue(recipeInit), Seed = parse.GetValue(seed), Device = parse.GetValue(device),
                CheckpointPath = checkpoint, Resume = parse.GetValue(resume),
            };
            log.WriteLine($"VAE {data.Columns}-{string.Join("-", widths)}-{options.Latent} on {data.Rows} frames; training on {where}");
            VaeTrainingResult result;
            try
            {
                using var bar = new ProgressBar(log, options.Epochs, "vae");
                result = VaeTraining.Train(data, options, new SynchronousProgress<VaeEpoch>(e =>
                    bar.Update(e.Epoch, $"epoch {e.Epoch}  loss {e.Loss:F4} = reconstruction {e.Reconstruction:F4} + KL {e.Kl:F4}")), CommandLineHost.Cancellation);
            }
            catch (OperationCanceledException)
            {
                if (File.Exists(checkpoint)) log.WriteLine($"the last finished epoch is kept in {checkpoint}; continue with --resume");
                throw;
            }
            var model = result.Model;
            foreach (var warning in result.Warnings) log.WriteLine($"warning: {warning}");

            var last = result.Epochs[^1];
            var summary = new TrainingSummary((int)options.Seed, options.Epochs, options.Epochs, 0, true, last.Loss, data.Shape, Path.GetFileName(source.TrimEnd('/')));
            var threshold = double.NaN;
            outputs.WriteFolder(outDir, folder =>
            {
                // per-frame score: the negative ELBO with the mean latent; threshold from the training data's own scores
                threshold = ServingCalibration.ExportCalibrated(folder,
                    scoring => VaeExport.Export(model, folder, Path.GetFileName(Path.GetFullPath(outDir).TrimEnd('/')), frontEnd, scoring, summary),
                    new AnomalyScoring("mean", 0, 0, ""),
                    files is null ? ServingCalibration.Samples(data) : ServingCalibration.FeatureFiles(files), parse.GetValue(fpr)).Threshold;
                VaeFigures.Write(Path.Combine(folder, "evaluation"), result, files?[0] ?? data, parse.GetValue(coefficient),
                    frontEnd is null ? null : (double)frontEnd.HopLength / frontEnd.SampleRate);
            });
            if (parse.GetValue(stateDict) is { } statePath) outputs.WriteFile(statePath, stream => StateDicts.Save(model, stream, statePath));
            outputs.Commit();
            if (File.Exists(checkpoint)) File.Delete(checkpoint); // the job is done
            log.WriteLine($"final loss {last.Loss:F4} (reconstruction {last.Reconstruction:F4}, KL {last.Kl:F4}); threshold {threshold:G5}; wrote {outDir}");
            cli.Summary(parse, new Dictionary<string, object?>
            {
                ["frames"] = data.Rows, ["dimensions"] = data.Columns, ["epochs"] = result.Epochs.Select(e => new { epoch = e.Epoch, loss = e.Loss, reconstruction = e.Reconstruction, kl = e.Kl }).ToList(),
                ["threshold"] = threshold, ["model"] = outDir, ["pictures_seconds"] = Figure.TimeSpent.TotalSeconds,
            });
            return CommandLineHost.Success;
        });
        return command;
    }
}
