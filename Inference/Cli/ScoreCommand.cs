using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Pipeline.Inference.Anomaly;
using Pipeline.Inference.Runtime;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Cli;
using Pipeline.Shared.Errors;

/// <summary><c>pipeline-infer score</c>: anomaly scores of files and folders.</summary>
static class ScoreCommand
{
    public static Command Create(RuntimeCommandOptions runtime, CommonOptions cli)
    {
        var model = new Option<string>("--model", "-m") { Description = "Model folder of an anomaly scorer written by pipeline-train (anomaly, gmm or vae)", Required = true };
        var inputs = new Argument<string[]>("inputs") { Description = "Audio files, directories (recursive) or globs", Arity = ArgumentArity.OneOrMore };
        var frames = new Option<bool>("--frames") { Description = "With --json, include the per-frame error curve" };
        var machineId = new Option<string?>("--machine-id") { Description = "Models that know machine IDs (machine-ID classifiers, clip statistics): the ID (id_NN) every file is scored against (default: the id_NN in each file's name)" };
        var command = new Command("score", """
            Score recordings with an anomaly model: one line per file with its score, the decision and notes.
            Finding anomalies is not an error: the exit code is 0 unless a file or the model could not be used.
            With --json, one JSON object per file (file, score, anomaly, threshold, notes, provider; --frames adds the frame errors).

            Examples:
              pipeline-infer score --model artifacts/models/ae data/test/clip.wav
              pipeline-infer score --model artifacts/models/ae data/test --json > scores.jsonl
              pipeline-infer score --model artifacts/models/id-classifier --machine-id id_02 recordings/
            """) { model, inputs, frames, machineId };
        command.SetAction(parse =>
        {
            if (parse.GetValue(frames) && !parse.GetValue(cli.Json)) throw new InvalidOptionException("--frames adds each file's frame errors to the lines --json writes; add --json");
            using var scorer = new AnomalyScorer(parse.GetValue(model)!, runtime.Create(parse));
            runtime.Report(parse, scorer.Session);
            var id = scorer.ParseMachineId(parse.GetValue(machineId), "--machine-id", parse.GetValue(model)!);
            // every file of every input, in input order; an input that names no audio file is a line of its own
            var files = new List<string>();
            var results = new List<(AnomalyResult? Result, string? Problem)>();
            foreach (var input in parse.GetValue(inputs)!)
            {
                try { foreach (var f in AudioFiles.Find(input)) { files.Add(f); results.Add((null, null)); } }
                catch (PipelineException e) { files.Add(input); results.Add((null, e.Message)); }
            }
            var failures = new List<(string File, string Problem)>();
            var done = 0;
            using var bar = new ProgressBar(cli.Log(parse), files.Count, "score");
            Parallel.For(0, files.Count, Pipeline.Shared.Threading.ComputeThreads.Cancellable(CommandLineHost.Cancellation), i =>
            {
                if (results[i].Problem is not null) { bar.Update(Interlocked.Increment(ref done), Path.GetFileName(files[i])); return; }
                try { results[i] = (scorer.ScoreFile(files[i], id), null); }
                catch (PipelineException e) { results[i] = (null, e.Message); }
                bar.Update(Interlocked.Increment(ref done), Path.GetFileName(files[i]));
            });
            bar.Dispose();
            var asJson = parse.GetValue(cli.Json); // one JSON object per file instead of the table
            var output = Console.Out;
            // the table's header only above rows: a run where every file failed prints nothing on standard output
            if (!asJson && results.Any(r => r.Result is not null))
                output.WriteLine($"{"file",-48} {"score",12} {"decision",9}  notes (threshold {scorer.Scoring.Threshold.ToString("G5", CultureInfo.InvariantCulture)})");
            for (var i = 0; i < files.Count; i++) // in input order, each file once, failures included
            {
                var (result, problem) = results[i];
                if (result is null)
                {
                    failures.Add((files[i], problem!));
                    if (asJson) output.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object> { ["file"] = files[i], ["error"] = problem! }));
                    Console.Error.WriteLine($"error: {problem}");
                }
                else if (asJson)
                {
                    var line = new Dictionary<string, object>
                    {
                        ["file"] = files[i], ["score"] = result.Score, ["anomaly"] = result.IsAnomaly,
                        ["threshold"] = scorer.Scoring.Threshold, ["notes"] = result.Notes, ["provider"] = scorer.Session.Provider,
                    };
                    if (parse.GetValue(frames)) line["frame_errors"] = result.FrameErrors;
                    output.WriteLine(JsonSerializer.Serialize(line));
                }
                else
                    output.WriteLine($"{Shorten(files[i], 48),-48} {result.Score.ToString("G6", CultureInfo.InvariantCulture),12} {(result.IsAnomaly ? "anomaly" : "normal"),9}  {string.Join("; ", result.Notes)}");
            }
            cli.Log(parse).WriteLine($"{results.Count(r => r.Result is not null)} scored, {results.Count(r => r.Result?.IsAnomaly == true)} anomalous, {failures.Count} failed");
            return failures.Count == 0 ? CommandLineHost.Success : CommandLineHost.UserError;
        });
        return command;
    }

    static string Shorten(string path, int width) => path.Length <= width ? path : "…" + path[^(width - 1)..];
}
