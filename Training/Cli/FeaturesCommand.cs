using System.CommandLine;
using System.Diagnostics;
using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Cli;
using Pipeline.Shared.Errors;
using Pipeline.Shared.Files;

/// <summary><c>pipeline-train features</c>: the front end's output as .npy files, to inspect or compare with Python tools.</summary>
static class FeaturesCommand
{
    public static Command Create(CommonOptions cli)
    {
        var input = AudioInputs.InputOption("Audio files, directories (searched recursively) or globs such as 'data/normal_*.wav'");
        var skipBad = AudioInputs.SkipBadOption();
        var preset = new Option<string>("--preset", "-p") { Description = $"Front-end recipe: {string.Join(", ", FrontEndConfig.PresetNames)}", DefaultValueFactory = _ => "dcase-logmel" };
        var output = new Option<string>("--out", "-o") { Description = "A .npy file for one input file; a folder (one .npy per file, plus frontend.json) otherwise", Required = true };
        var feature = new Option<string?>("--feature") { Description = "Override what is computed: Magnitude, Power, Mel, LogMel, Mfcc, MelCepstrum" };
        var sampleRate = new Option<int?>("--sample-rate") { Description = "Override the analysis sample rate (audio is resampled to it)" };
        var nFft = new Option<int?>("--n-fft") { Description = "Override the FFT size" };
        var hop = new Option<int?>("--hop-length") { Description = "Override the samples between frames" };
        var win = new Option<int?>("--win-length") { Description = "Override the window length (≤ n_fft)" };
        var nMels = new Option<int?>("--n-mels") { Description = "Override the number of mel bands" };
        var fmin = new Option<double?>("--fmin") { Description = "Override the lowest mel frequency (Hz)" };
        var fmax = new Option<double?>("--fmax") { Description = "Override the highest mel frequency (Hz, ≤ sr/2)" };
        var nMfcc = new Option<int?>("--n-mfcc") { Description = "Override the number of MFCCs" };
        var order = new Option<int?>("--order") { Description = "Override the mel-cepstrum order" };
        var alpha = new Option<double?>("--alpha") { Description = "Override the mel-cepstrum all-pass constant" };
        var context = new Option<int?>("--context") { Description = "Frames of mirrored context on each side (0: none)" };
        var cache = new Option<string?>("--cache") { Description = "Cache directory: features are reused when the file and the front end are unchanged" };

        var command = new Command("features", """
            Compute the front end's features: one row per frame, (frames, dimensions), float32 .npy.

            Examples:
              pipeline-train features --input clip.wav --preset dcase-logmel --out clip.npy
              pipeline-train features --input data/train --preset vae-mcep --order 24 --out artifacts/features/train
            """)
        {
            input, preset, output, feature, sampleRate, nFft, hop, win, nMels, fmin, fmax, nMfcc, order, alpha, context, cache, skipBad, cli.Force,
        };
        command.SetAction(parse =>
        {
            var log = cli.Log(parse);
            var config = FrontEndConfig.Preset(parse.GetValue(preset)!);
            if (parse.GetValue(feature) is { } kind) config = config.WithFeature(OptionParsing.Named<FeatureKind>(kind, "--feature"));
            config = config with
            {
                SampleRate = parse.GetValue(sampleRate) ?? config.SampleRate,
                NFft = parse.GetValue(nFft) ?? config.NFft,
                HopLength = parse.GetValue(hop) ?? config.HopLength,
                WinLength = parse.GetValue(win) ?? config.WinLength,
                ContextBefore = parse.GetValue(context) ?? config.ContextBefore,
                ContextAfter = parse.GetValue(context) ?? config.ContextAfter,
            };
            // a setting of another feature than the one computed is refused, not silently ignored
            T Own<T>(Option option, string features) where T : FrontEndConfig => config as T ?? throw new InvalidOptionException(
                $"{option.Name} applies to {features} features, not {config.Feature}; choose them with --feature or another --preset");
            const string mel = "Mel, LogMel and Mfcc";
            if (parse.GetValue(nMels) is { } bands) config = Own<MelSpectrogramOptions>(nMels, mel) with { NMels = bands };
            if (parse.GetValue(fmin) is { } low) config = Own<MelSpectrogramOptions>(fmin, mel) with { FMin = low };
            if (parse.GetValue(fmax) is { } high) config = Own<MelSpectrogramOptions>(fmax, mel) with { FMax = high };
            if (parse.GetValue(nMfcc) is { } coefficients) config = Own<MfccOptions>(nMfcc, "Mfcc") with { NMfcc = coefficients };
            if (parse.GetValue(order) is { } m) config = Own<MelCepstrumOptions>(order, "MelCepstrum") with { Order = m };
            if (parse.GetValue(alpha) is { } a) config = Own<MelCepstrumOptions>(alpha, "MelCepstrum") with { Alpha = a };
            var loader = new FeatureLoader(new FeatureExtractor(config), parse.GetValue(cache));
            var inputs = parse.GetValue(input)!;
            var target = parse.GetValue(output)!;
            var single = inputs.Length == 1 && File.Exists(inputs[0]);
            using var outputs = cli.Outputs(parse);
            foreach (var path in inputs) outputs.DeclareInput(path);
            if (parse.GetValue(cache) is { } cacheFolder) outputs.DeclareWorkFolder(cacheFolder);
            if (single) outputs.DeclareFile(target);
            else outputs.DeclareFolder(target, OutputFolderKind.Features);
            var files = AudioFiles.Find(inputs);
            log.WriteLine($"{files.Count} file(s), {config.Feature} at {config.SampleRate} Hz, n_fft {config.NFft}, hop {config.HopLength} → {config.Dimensions} values per frame");
            var clock = Stopwatch.StartNew();
            if (single)
            {
                foreach (var warning in loader.Extractor.Warnings) log.WriteLine($"warning: {warning}");
                var result = loader.LoadFile(files[0]);
                outputs.WriteFile(target, s => NpyFile.Write(s, result));
                outputs.Commit();
                log.WriteLine($"wrote {target}: {result.ShapeText} in {clock.Elapsed.TotalSeconds:F2} s");
                cli.Summary(parse, new Dictionary<string, object?> { ["output"] = target, ["files"] = 1, ["frames"] = result.Rows, ["dimensions"] = config.Dimensions });
                return CommandLineHost.Success;
            }
            // names mirror the inputs below the folder they all share
            var root = inputs.Length == 1 && Directory.Exists(inputs[0]) ? inputs[0] : CommonFolder(files);
            using var bar = new ProgressBar(log, files.Count, "features");
            var results = AudioInputs.Load(files, loader, parse.GetValue(skipBad), log, new Progress(bar));
            outputs.WriteFolder(target, folder =>
            {
                foreach (var (path, array) in results)
                {
                    var name = Path.ChangeExtension(Path.GetRelativePath(root, path), ".npy");
                    Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(folder, name))!);
                    NpyFile.Write(Path.Combine(folder, name), array);
                }
                File.WriteAllText(Path.Combine(folder, OutputFolderKind.Features.Marker), config.ToJson());
            });
            outputs.Commit();
            bar.Dispose();
            log.WriteLine($"wrote {results.Count} feature files ({results.Sum(r => (long)r.Features.Rows)} frames) to {target} in {clock.Elapsed.TotalSeconds:F2} s");
            cli.Summary(parse, new Dictionary<string, object?> { ["output"] = target, ["files"] = results.Count, ["frames"] = results.Sum(r => (long)r.Features.Rows), ["dimensions"] = config.Dimensions });
            return CommandLineHost.Success;
        });
        return command;
    }

    static string CommonFolder(IReadOnlyList<string> files)
    {
        var folders = files.Select(f => Path.GetDirectoryName(Path.GetFullPath(f))!).ToList();
        var common = folders[0];
        foreach (var folder in folders.Skip(1))
            while (!(folder == common || folder.StartsWith(common.TrimEnd('/') + "/", StringComparison.Ordinal)))
                common = Path.GetDirectoryName(common) ?? "/";
        return common;
    }

    sealed class Progress(ProgressBar bar) : IProgress<FeatureLoadProgress>
    {
        public void Report(FeatureLoadProgress value) => bar.Update(value.Done, Path.GetFileName(value.File) + (value.FromCache ? " (cached)" : ""));
    }
}
