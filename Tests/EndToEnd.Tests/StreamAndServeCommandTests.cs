using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using static Pipeline.EndToEnd.Tests.Hosts;

namespace Pipeline.EndToEnd.Tests;

/// <summary><c>pipeline-infer stream</c> and <c>serve</c> as processes: input on standard input, refusals as exit 1.</summary>
public class StreamAndServeCommandTests : IClassFixture<StreamAndServeCommandTests.Model>
{
    public sealed class Model : IDisposable
    {
        public string Dir { get; } = Path.Combine(Path.GetTempPath(), "pipeline-stream-" + Guid.NewGuid().ToString("N")[..8]);
        public string Path_ => System.IO.Path.Combine(Dir, "ae");
        public string Clip { get; }

        public Model()
        {
            var data = System.IO.Path.Combine(Dir, "data");
            Assert.Equal(0, Run("pipeline-train", "synth", "machine", "--out", data, "--seed", "6", "--machines", "1", "--train", "3", "--test-normal", "1", "--seconds", "1").Code);
            var train = Run("pipeline-train", "anomaly", "--data", data, "--epochs", "1", "--batch-size", "32", "--n-mels", "16", "--context", "2", "--hidden", "16,8,4", "--out", Path_);
            Assert.True(train.Code == 0, train.Err);
            Clip = Directory.GetFiles(System.IO.Path.Combine(data, "test_anomaly"), "*.wav").Order().First();
        }

        public void Dispose() => Directory.Delete(Dir, true);
    }

    readonly Model model;

    public StreamAndServeCommandTests(Model model) => this.model = model;

    /// <summary>Runs pipeline-infer with <paramref name="input"/> on standard input.</summary>
    static (int Code, string Out, string Err) WithInput(byte[] input, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, WorkingDirectory = Root };
        start.ArgumentList.Add(Dll("pipeline-infer"));
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            process.StandardInput.BaseStream.Write(input);
            process.StandardInput.Close();
        }
        catch (IOException) { } // the host refused the input and left before reading it all
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    static byte[] Sox(string input, params string[] output)
    {
        var start = new ProcessStartInfo("sox") { RedirectStandardOutput = true };
        start.ArgumentList.Add(input);
        foreach (var a in output) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var bytes = new MemoryStream();
        process.StandardOutput.BaseStream.CopyTo(bytes);
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
        return bytes.ToArray();
    }

    [Fact]
    public void Stream_OfAWavARawStreamAndSoxsPipe_EndsWithTheScoreOfTheFile()
    {
        var score = JsonDocument.Parse(Run("pipeline-infer", "score", "--model", model.Path_, model.Clip, "--json").Out).RootElement.GetProperty("score").GetDouble();
        foreach (var (input, args) in new (byte[], string[])[]
        {
            (File.ReadAllBytes(model.Clip), []),
            (Sox(model.Clip, "-t", "raw", "-e", "signed", "-b", "16", "-"), ["--format", "s16le"]),
            (Sox(model.Clip, "-t", "raw", "-e", "floating-point", "-b", "32", "-"), ["--format", "f32le"]),
            (Sox(model.Clip, "-t", "wav", "-"), ["--format", "wav"]),                                     // a WAV written into a pipe (no sizes)
            (Sox(model.Clip, "-t", "raw", "-e", "signed", "-b", "16", "-c", "2", "-"), ["--format", "s16le", "--channels", "2"]), // two equal channels
        })
        {
            var run = WithInput(input, ["stream", "--model", model.Path_, .. args]);
            Assert.True(run.Code == 0, run.Err);
            var lines = run.Out.Trim().Split('\n').Select(l => JsonDocument.Parse(l).RootElement).ToList();
            Assert.Equal(101, lines.Count(l => l.TryGetProperty("frame", out _)));
            Assert.Equal(Enumerable.Range(0, 101), lines.Where(l => l.TryGetProperty("frame", out _)).Select(l => l.GetProperty("frame").GetInt32()));
            var end = lines[^1];
            Assert.True(end.GetProperty("end").GetBoolean());
            Assert.Equal(score, end.GetProperty("score").GetDouble(), 1e-5 * score);
            Assert.Equal(args.Contains("2") ? ["mixed 2 channels to mono"] : Array.Empty<string>(), end.GetProperty("notes").EnumerateArray().Select(n => n.GetString()));
        }
    }

    [Fact]
    public void Stream_RefusesWhatItCannotScore_InOneLine()
    {
        var wav = File.ReadAllBytes(model.Clip);
        var cases = new (byte[] Input, string[] Args, string Message)[]
        {
            (Sox(model.Clip, "-t", "wav", "-r", "44100", "-"), [], "error: standard input: is sampled at 44100 Hz but the model takes 16000 Hz, and a stream is not resampled; resample it first (e.g. `sox in.wav -r 16000 out.wav`)"),
            ("not audio at all"u8.ToArray(), [], "error: standard input: is not a WAV stream (it does not start with RIFF…WAVE); for headerless PCM give --format s16le or f32le"),
            (wav[..1000], [], $"error: standard input: truncated: the header promises {wav.Length - 44} bytes of samples but the stream ended after 956"),
            (WithHugeChunk(wav), [], "error: standard input: the WAV header's 'JUNK' chunk claims 4294967280 bytes; a header chunk that large is not read"),
            ([], [], "error: standard input: is empty"),
            (wav[..30], [], "error: standard input: the WAV header ends inside its 'fmt ' chunk"),
            (Sox(model.Clip, "-t", "wav", "-", "trim", "0", "0.002"), [], "error: standard input: is too short"),
            (wav, ["--format", "mp3"], "error: --format must be wav, s16le or f32le, got 'mp3'"),
            (wav, ["--format", "s16le", "--channels", "0"], "error: channels must be positive, got 0"),
        };
        foreach (var (input, args, message) in cases)
        {
            var run = WithInput(input, ["stream", "--model", model.Path_, .. args]);
            Assert.True(run.Code == 1, $"{string.Join(' ', args)}: exit {run.Code}: {run.Err}");
            Assert.Contains(message, run.Err);
            Assert.DoesNotContain("   at ", run.Err);
        }
    }

    /// <summary>A JUNK chunk claiming nearly 4 GB, between RIFF…WAVE and the format chunk.</summary>
    static byte[] WithHugeChunk(byte[] wav) => [.. wav[..12], .. "JUNK"u8, 0xF0, 0xFF, 0xFF, 0xFF, .. wav[12..]];

    [Fact]
    public void Serve_RefusesBadModelsAndATakenPort_BeforeListening()
    {
        var twice = Run("pipeline-infer", "serve", "--model", model.Path_, "--model", model.Path_);
        Assert.Equal(1, twice.Code);
        Assert.Equal("error: two models are named 'ae'; name them with --model NAME=DIR", twice.Err.Trim());
        var missing = Run("pipeline-infer", "serve", "--model", Path.Combine(model.Dir, "nope"));
        Assert.Equal(1, missing.Code);
        Assert.Contains("nope", missing.Err);
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var busy = Run("pipeline-infer", "serve", "--model", "m=" + model.Path_, "--port", port.ToString());
        Assert.Equal(1, busy.Code);
        Assert.Equal($"error: cannot listen on 127.0.0.1:{port}: Address already in use", busy.Err.Trim());
        var elsewhere = Run("pipeline-infer", "serve", "--model", model.Path_, "--host", "192.0.2.1", "--port", port.ToString()); // not this machine's
        Assert.Equal(1, elsewhere.Code);
        Assert.Equal($"error: cannot listen on 192.0.2.1:{port}: Cannot assign requested address", elsewhere.Err.Trim());
        var options = Run("pipeline-infer", "serve", "--model", model.Path_, "--port", "99999", "--body-timeout", "-1");
        Assert.Equal(1, options.Code);
        Assert.Contains("--body-timeout must be a number of seconds, got -1", options.Err);
    }
}
