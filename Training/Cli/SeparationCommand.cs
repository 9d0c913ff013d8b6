using System.CommandLine;
using Pipeline.Training.Plots;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Cli;
using Pipeline.Shared.Errors;
using Pipeline.Shared.Manifest;
using Pipeline.Training.Decomposition;
using Pipeline.Training.Export;

/// <summary><c>pipeline-train separation</c>: per-source NMF templates from solo recordings, exported as one separation model.</summary>
static class SeparationCommand
{
    public static Command Create(CommonOptions cli, Option<Pipeline.Inference.Runtime.Device> device)
    {
        var sources = new Option<string[]>("--source", "-s") { Description = "NAME=FILE: a solo recording of one source (repeat for each source)", Required = true, AllowMultipleArgumentsPerToken = false };
        var output = new Option<string>("--out", "-o") { Description = "Model folder to write", Required = true };
        var rank = new Option<int>("--rank", "-k") { Description = "Templates per source", DefaultValueFactory = _ => Pipeline.Training.Decomposition.DecompositionOptions.DefaultRank };
        var beta = new Option<double>("--beta") { Description = "β of the divergence (1: Kullback-Leibler, the usual choice for magnitudes)", DefaultValueFactory = _ => 1 };
        var maxIter = new Option<int>("--max-iter") { Description = "Multiplicative-update iterations per source", DefaultValueFactory = _ => 200 };
        var iterations = new Option<int>("--iterations") { Description = "Updates the exported activation graph runs by default", DefaultValueFactory = _ => 200 };
        var sampleRate = new Option<int>("--sample-rate") { Description = "Analysis rate (audio is resampled)", DefaultValueFactory = _ => 22050 };
        var nFft = new Option<int>("--n-fft") { Description = "FFT size", DefaultValueFactory = _ => 2048 };
        var hop = new Option<int>("--hop-length") { Description = "Samples between frames", DefaultValueFactory = _ => 512 };
        var seed = new Option<int>("--seed") { Description = "Seed of the template initialisation", DefaultValueFactory = _ => 0 };
        var command = new Command("separation", """
            Learn NMF templates on each source's solo recording and export them side by side: pipeline-infer separate
            then splits a mixture of these sources into one WAV per source.

            Example:
              pipeline-train separation --source piano=piano.wav --source voice=voice.wav --rank 16 --out artifacts/models/duet
            """) { sources, output, rank, beta, maxIter, iterations, sampleRate, nFft, hop, seed, cli.Force };
        command.SetAction(parse =>
        {
            var where = Pipeline.Training.Engine.TorchDevice.Resolve(parse.GetValue(device)); // a missing CUDA is refused before any file is read
            var log = cli.Log(parse);
            var stft = FrontEndConfig.MagnitudeSpectrogram with { SampleRate = parse.GetValue(sampleRate), NFft = parse.GetValue(nFft), HopLength = parse.GetValue(hop) };
            stft.Validate();
            var outDir = parse.GetValue(output)!;
            using var outputs = cli.Outputs(parse);
            outputs.DeclareFolder(outDir, ModelFolder.Kind);
            var clips = new List<(string, AudioClip)>();
            var problems = new List<PipelineException>(); // every bad --source at once
            foreach (var entry in parse.GetValue(sources)!)
            {
                var at = entry.IndexOf('=');
                if (at <= 0) { problems.Add(new InvalidOptionException($"--source takes NAME=FILE, not '{entry}'")); continue; }
                var (name, path) = (entry[..at], entry[(at + 1)..]);
                outputs.DeclareInput(path);
                try { clips.Add((name, AudioFile.Read(path, new AudioReadOptions { SampleRate = stft.SampleRate }))); }
                catch (PipelineException e) { problems.Add(e); continue; }
                log.WriteLine($"source {name}: {path}");
            }
            if (problems.Count == 1) throw problems[0];
            if (problems.Count > 1) throw new BadInputFilesException(problems, $"{problems.Count} of {parse.GetValue(sources)!.Length} sources cannot be used");
            var options = new NmfFitOptions { Beta = parse.GetValue(beta), MaxIterations = parse.GetValue(maxIter) };
            var (model, specs) = SourceTemplates.Learn(clips, stft, parse.GetValue(rank), options, parse.GetValue(seed), where);
            outputs.WriteFolder(outDir, folder =>
            {
                NmfExport.Export(model, folder, Path.GetFileName(Path.GetFullPath(outDir).TrimEnd('/')), options.Beta, parse.GetValue(iterations), frontEnd: stft, sources: specs);
                var warning = SeparationFigures.Write(Path.Combine(folder, "evaluation"), model.W!, specs, stft);
                if (warning is not null) log.WriteLine($"warning: {warning}");
            });
            outputs.Commit();
            log.WriteLine($"{specs.Count} sources × {parse.GetValue(rank)} templates over {stft.NFft / 2 + 1} bins; wrote {outDir}");
            cli.Summary(parse, new Dictionary<string, object?> { ["model"] = outDir, ["sources"] = specs.Select(s => s.Name).ToList(), ["rank"] = parse.GetValue(rank), ["pictures_seconds"] = Figure.TimeSpent.TotalSeconds });
            return CommandLineHost.Success;
        });
        return command;
    }
}
