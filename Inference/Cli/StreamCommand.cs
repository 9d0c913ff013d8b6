using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Pipeline.Inference.Anomaly;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Cli;

/// <summary><c>pipeline-infer stream</c>: frame scores of audio read from standard input as it arrives.</summary>
static class StreamCommand
{
    public static Command Create(RuntimeCommandOptions runtime, CommonOptions cli)
    {
        var model = new Option<string>("--model", "-m") { Description = "Anomaly model folder written by pipeline-train anomaly", Required = true };
        var format = new Option<string>("--format") { Description = "wav (its header read as it arrives), or headerless PCM: s16le or f32le", DefaultValueFactory = _ => "wav" };
        format.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string>() is not ("wav" or "s16le" or "f32le"))
                r.AddError($"--format must be wav, s16le or f32le, got '{r.GetValueOrDefault<string>()}'");
        });
        var rate = new Option<int?>("--sample-rate") { Description = "Headerless input's rate in Hz (default: the model's; a WAV says its own)" };
        var machineId = new Option<string?>("--machine-id") { Description = "Machine-ID classifiers: the stream's ID (id_NN); without it, scored against every known ID" };
        var channels = new Option<int>("--channels") { Description = "Headerless input's channels, interleaved, mixed down by the mean (a WAV says its own)", DefaultValueFactory = _ => 1 };
        var command = new Command("stream", """
            Score audio read from standard input as it arrives: one JSON line per frame as soon as its context is known
            ({"frame", "time" in s, "error", "score" of the frames so far, "anomaly"}), and at the end one line with
            "end": true and the whole stream's score, decision, threshold and notes (those pipeline-infer score gives
            for the same audio as a file, to float32 rounding). The input is at the model's rate: a WAV (the default;
            its header read as it arrives) or headerless PCM with --format s16le or f32le. Ctrl-C stops it (exit 130).

            Examples:
              arecord -q -f S16_LE -r 16000 -c 1 -t raw | pipeline-infer stream --model artifacts/models/ae --format s16le
              sox machine.wav -t wav - | pipeline-infer stream --model artifacts/models/ae
            """) { model, format, rate, channels, machineId };
        command.SetAction(parse =>
        {
            using var scorer = new AnomalyScorer(parse.GetValue(model)!, runtime.Create(parse));
            runtime.Report(parse, scorer.Session);
            var input = Console.OpenStandardInput();
            var raw = parse.GetValue(format) == "f32le" ? RawFormat.F32le : RawFormat.S16le;
            var reader = parse.GetValue(format) == "wav"
                ? PcmStreamReader.Wav(input)
                : PcmStreamReader.Raw(input, raw, parse.GetValue(rate) ?? scorer.FrontEnd?.SampleRate ?? 1, parse.GetValue(channels));
            var stream = scorer.OpenStream(reader.SampleRate, "standard input", scorer.ParseMachineId(parse.GetValue(machineId), "--machine-id", parse.GetValue(model)!));
            var output = new StreamWriter(Console.OpenStandardOutput()) { AutoFlush = false };
            var hop = scorer.FrontEnd!.HopLength;
            // reading standard input blocks: the loop runs aside, so that Ctrl-C ends the command at once (exit 130)
            var loop = Task.Run(() =>
            {
                while (true)
                {
                    var samples = reader.Read(hop);
                    if (samples.Length == 0) break;
                    var mono = AudioFile.MixDown(new AudioClip(samples, reader.SampleRate, reader.Channels)).Samples;
                    Write(output, stream.Push(mono));
                }
                Write(output, stream.Complete());
            });
            try { loop.Wait(CommandLineHost.Cancellation); }
            catch (AggregateException e) when (e.InnerException is not null) { System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerException); }
            var verdict = stream.Verdict!;
            var notes = reader.Channels > 1 ? [$"mixed {reader.Channels} channels to mono", .. verdict.Notes] : verdict.Notes;
            output.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["end"] = true, ["frames"] = stream.FramesScored, ["score"] = verdict.Score, ["anomaly"] = verdict.IsAnomaly,
                ["threshold"] = scorer.Scoring.Threshold, ["notes"] = notes,
            }));
            output.Flush();
            return CommandLineHost.Success;
        });
        return command;
    }

    static void Write(StreamWriter output, IReadOnlyList<FrameScore> frames)
    {
        foreach (var f in frames)
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{{\"frame\":{f.Frame},\"time\":{f.Time:0.######},\"error\":{f.Error:R},\"score\":{f.Score:R},\"anomaly\":{(f.IsAnomaly ? "true" : "false")}}}"));
        if (frames.Count > 0) output.Flush(); // a line per frame as it is known, not when a buffer fills
    }
}
