using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using Pipeline.Inference.Anomaly;
using Pipeline.Inference.Runtime;
using Pipeline.Shared.Audio;
using Pipeline.Training.Anomaly;
using Pipeline.Training.Export;

namespace Pipeline.Benchmarks;

/// <summary>
/// The scoring server under a bounded load on loopback: the DCASE 2020 Task 2 baseline autoencoder (1280 inputs,
/// trained one epoch on synthetic machine sounds) served by <c>pipeline-infer serve</c> as its own process;
/// 16 connections send 2,000 requests of a 10 s WAV. Prints throughput, p50/p99 latency and the server's resident
/// memory, beside the graph's FLOP roofline and the same clips scored in-process by the library (the peer without
/// HTTP). Then the streaming path: the time from a 10 ms chunk's arrival to its frame score.
/// </summary>
static class ServeBenchmark
{
    const int Connections = 16, Requests = 2000, WarmUp = 50;

    public static void Run(MachineLimits limits) => RunAsync(limits).GetAwaiter().GetResult();

    static async Task RunAsync(MachineLimits limits)
    {
        var root = Path.Combine(Path.GetTempPath(), "pipeline-bench-serve");
        if (Directory.Exists(root)) Directory.Delete(root, true);
        var data = Path.Combine(root, "data");
        new MachineSynth(3).WriteDataSet(data, machines: 1, trainPerMachine: 20, testNormalPerMachine: 10, anomaliesPerKindAndLevel: 0);
        var options = new AnomalyTrainingOptions { Training = new() { Epochs = 1, ConstantEpochs = 0 } };
        var result = AnomalyTraining.Train(AnomalyDataset.Open(data) with { Test = [] }, options);
        var model = Path.Combine(root, "ae");
        DetectorExport.Export(result.Model, model, "bench", options.FrontEnd, result.Scoring);
        var clips = Directory.GetFiles(Path.Combine(data, "test_normal"), "*.wav").Order().Select(File.ReadAllBytes).ToList();
        var macs = result.Model.parameters().Where(p => p.dim() == 2).Sum(p => p.numel());
        var flopsPerClip = 2.0 * macs * 1001;
        var roofline = limits.SgemmGflops * 1e9 / flopsPerClip;

        // the peer: the same clips scored in-process, files in parallel, as pipeline-infer score does
        var peerRate = PeerRate(model, clips);

        var host = Path.Combine(Directory.GetCurrentDirectory(), "Inference", "Cli", "bin", "Release", "net10.0", "pipeline-infer.dll");
        var port = LocalServer.FreePort();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { host, "serve", "--model", model, "--port", port.ToString() }) start.ArgumentList.Add(a);
        using var server = Process.Start(start)!;
        server.OutputDataReceived += (_, _) => { }; // one log line per request: read and dropped
        server.BeginOutputReadLine();
        try
        {
            using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = Connections }) { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            await LocalServer.WaitUntilReady(client, server, TimeSpan.FromSeconds(60));
            await Load(client, clips, WarmUp);
            var before = Resident(server);
            var first = await Load(client, clips, 500);
            var after500 = Resident(server);
            var rest = await Load(client, clips, Requests - 500);
            var after = Resident(server);
            var latencies = first.Latencies.Concat(rest.Latencies).Order().ToArray();
            var seconds = first.Seconds + rest.Seconds;
            var rate = Requests / seconds;
            Console.WriteLine($"serving the autoencoder over HTTP (pipeline-infer serve, 1 ONNX Runtime thread per request, {Environment.ProcessorCount} at once): {Requests} requests of a 10 s WAV on {Connections} connections");
            Console.WriteLine($"  {rate,6:F1} clips/s   target 40 ({rate / 40:F2}x of it)   graph FLOP roofline {roofline:F1} clips/s ({rate / roofline:F2} of it)   in-process library (peer) {peerRate:F1} clips/s ({rate / peerRate:F2} of it)");
            Console.WriteLine($"  latency p50 {Percentile(latencies, 0.5),6:F1} ms   p99 {Percentile(latencies, 0.99),6:F1} ms (target 150 ms: {Percentile(latencies, 0.99) / 150:F2} of it)   max {latencies[^1]:F1} ms");
            // a closed loop of 16 clients: by Little's law their mean latency is at least 16 / the highest throughput
            Console.WriteLine($"  (16 requests always in flight: mean latency ≥ 16 / roofline = {Connections / roofline * 1e3:F0} ms on this machine; measured mean {latencies.Average():F1} ms)");
            var single = await Load(client, clips, 200, connections: 1);
            var alone = single.Latencies.Order().ToArray();
            Console.WriteLine($"  one connection (no queue): p50 {Percentile(alone, 0.5):F1} ms   p99 {Percentile(alone, 0.99):F1} ms   {200 / single.Seconds:F1} clips/s");
            Console.WriteLine($"  server memory (resident): {before / 1e6:F0} MB after {WarmUp} warm-up requests, {after500 / 1e6:F0} MB after 500 more, {after / 1e6:F0} MB after {Requests} ({(after - after500) / 1e6:+0.0;-0.0} MB over the last {Requests - 500})");
        }
        finally
        {
            Process.Start("kill", ["-TERM", server.Id.ToString()])!.WaitForExit();
            if (!server.WaitForExit(30_000)) server.Kill();
        }

        Streaming(model, clips[0]);
        Directory.Delete(root, true);
    }

    static double PeerRate(string model, List<byte[]> clips)
    {
        using var scorer = new AnomalyScorer(model, new RuntimeOptions { Device = Device.Cpu, IntraOpThreads = 1 });
        var decoded = clips.Select(c => AudioFile.Read(new MemoryStream(c), "clip", new AudioReadOptions { Mono = false })).ToList();
        Parallel.For(0, 20, i => scorer.Score(decoded[i % decoded.Count]));
        var clock = Stopwatch.StartNew();
        const int count = 400;
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
            i => scorer.Score(AudioFile.Read(new MemoryStream(clips[i % clips.Count]), "clip", new AudioReadOptions { Mono = false })));
        return count / clock.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// The streaming path in-process: a 10 s clip pushed in 160-sample (10 ms) chunks; the time of each push that
    /// yields a frame score, once the context is filled.
    /// </summary>
    static void Streaming(string model, byte[] wav)
    {
        using var scorer = new AnomalyScorer(model, new RuntimeOptions { Device = Device.Cpu, IntraOpThreads = 1 });
        var clip = AudioFile.Read(new MemoryStream(wav), "clip");
        var times = new List<double>();
        for (var pass = 0; pass < 3; pass++) // the first pass warms the JIT and ONNX Runtime up
        {
            times.Clear();
            var stream = scorer.OpenStream(clip.SampleRate);
            for (var at = 0; at + 160 <= clip.Samples.Length; at += 160)
            {
                var clock = Stopwatch.GetTimestamp();
                var frames = stream.Push(clip.Samples.AsSpan(at, 160));
                var ms = Stopwatch.GetElapsedTime(clock).TotalMilliseconds;
                if (frames.Count > 0) times.Add(ms);
            }
            stream.Complete();
        }
        var sorted = times.Order().ToArray();
        Console.WriteLine($"streaming frame scores (10 ms chunks of a 10 s clip, one thread): {sorted.Length} frames");
        Console.WriteLine($"  chunk to frame score: p50 {Percentile(sorted, 0.5):F3} ms   p99 {Percentile(sorted, 0.99):F3} ms (target 5 ms: {Percentile(sorted, 0.99) / 5:F3} of it)   max {sorted[^1]:F3} ms");
    }

    static async Task<(List<double> Latencies, double Seconds)> Load(HttpClient client, List<byte[]> clips, int count, int connections = Connections)
    {
        var latencies = new List<double>(count);
        var next = -1;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, connections).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                var body = new ByteArrayContent(clips[i % clips.Count]);
                body.Headers.ContentType = new MediaTypeHeaderValue("audio/wav");
                var sent = Stopwatch.GetTimestamp();
                using var response = await client.PostAsync("/v1/models/ae/score", body);
                await response.Content.ReadAsByteArrayAsync();
                var ms = Stopwatch.GetElapsedTime(sent).TotalMilliseconds;
                if (response.StatusCode != HttpStatusCode.OK) throw new InvalidOperationException($"the server answered {(int)response.StatusCode}");
                lock (latencies) latencies.Add(ms);
            }
        }));
        return (latencies, clock.Elapsed.TotalSeconds);
    }

    static double Percentile(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

    static long Resident(Process process) =>
        long.Parse(File.ReadAllLines($"/proc/{process.Id}/status").First(l => l.StartsWith("VmRSS:")).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
}
