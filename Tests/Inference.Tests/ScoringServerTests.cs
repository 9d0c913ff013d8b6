using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Pipeline.Inference.Anomaly;
using Pipeline.Inference.Decomposition;
using Pipeline.Inference.Serving;
using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Errors;
using Pipeline.Tests;

namespace Pipeline.Inference.Tests;

/// <summary>The scoring server on loopback, against the library the command line calls (<see cref="AnomalyScorer"/>, <see cref="ActivationEstimator"/>).</summary>
public class ScoringServerTests : IClassFixture<ScoringServerTests.Served>
{
    /// <summary>One server for the class: a tiny autoencoder ("ae") and an NMF ("nmf"), with a 1 MiB body limit.</summary>
    public sealed class Served : IAsyncLifetime
    {
        public AnomalyScorerTests.TrainedModel Anomaly { get; } = new();
        public string NmfDir { get; } = InferenceTests.Exported(1).Dir;
        public ScoringServer Server { get; private set; } = null!;
        public HttpClient Client { get; private set; } = null!;
        public ConcurrentQueue<IReadOnlyDictionary<string, object?>> Requests { get; } = new();

        public async Task InitializeAsync()
        {
            Server = ScoringServer.Create(new ServerOptions
            {
                Models = new Dictionary<string, string> { ["ae"] = Anomaly.ModelDir, ["nmf"] = NmfDir },
                Port = 0, MaxBodyBytes = 1 << 20,
            }, logging => logging.AddProvider(new RecordingLoggerProvider(Requests)));
            await Server.StartAsync();
            Client = new HttpClient { BaseAddress = new Uri(Server.Address) };
        }

        public async Task DisposeAsync()
        {
            Client.Dispose();
            await Server.DisposeAsync();
        }
    }

    /// <summary>Keeps the structured values of the server's request log lines.</summary>
    sealed class RecordingLoggerProvider(ConcurrentQueue<IReadOnlyDictionary<string, object?>> lines) : ILoggerProvider, ILogger
    {
        public ILogger CreateLogger(string category) => category == "Pipeline.Serving" ? this : Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel level) => true;
        public void Log<TState>(LogLevel level, EventId id, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (state is IReadOnlyList<KeyValuePair<string, object?>> values && values.Any(v => v.Key == "Status"))
                lines.Enqueue(values.ToDictionary(v => v.Key, v => v.Value));
        }
        public void Dispose() { }
    }

    readonly Served served;
    HttpClient Client => served.Client;

    public ScoringServerTests(Served served) => this.served = served;

    static ByteArrayContent Body(byte[] bytes, string? type)
    {
        var content = new ByteArrayContent(bytes);
        if (type is not null) content.Headers.ContentType = new MediaTypeHeaderValue(type);
        return content;
    }

    static async Task<JsonElement> Json(HttpResponseMessage response) => JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

    [Fact]
    public async Task Scores_EqualTheCommandLines_ForWavAndJsonBodies()
    {
        using var scorer = new AnomalyScorer(served.Anomaly.ModelDir);
        foreach (var clip in served.Anomaly.Result.Test.Take(6))
        {
            var expected = scorer.ScoreFile(clip.Clip.Path);
            using var response = await Client.PostAsync("/v1/models/ae/score", Body(File.ReadAllBytes(clip.Clip.Path), "audio/wav"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var json = await Json(response);
            Assert.Equal(expected.Score, json.GetProperty("score").GetDouble());
            Assert.Equal(expected.IsAnomaly, json.GetProperty("anomaly").GetBoolean());
            Assert.Equal(scorer.Scoring.Threshold, json.GetProperty("threshold").GetDouble());
            Assert.Equal("ae", json.GetProperty("model").GetString());
            Assert.False(json.TryGetProperty("frame_errors", out _));
        }
        // JSON samples at another rate, two channels: resampled and mixed down, as for a file, and noted
        var audio = AudioFile.Read(served.Anomaly.Result.Test[0].Clip.Path);
        var stereo = new AudioClip(Resampler.Resample(audio, 22050).Samples.SelectMany(s => new[] { s, 0.5f * s }).ToArray(), 22050, 2);
        var fromLibrary = scorer.Score(stereo, "request body");
        var body = JsonSerializer.SerializeToUtf8Bytes(new { samples = stereo.Samples, sample_rate = 22050, channels = 2 });
        using var jsonResponse = await Client.PostAsync("/v1/models/ae/score?frames=true", Body(body, "application/json"));
        var reply = await Json(jsonResponse);
        Assert.Equal(fromLibrary.Score, reply.GetProperty("score").GetDouble());
        Assert.Equal(["mixed 2 channels to mono", "resampled 22050 Hz to 16000 Hz"], reply.GetProperty("notes").EnumerateArray().Select(n => n.GetString()));
        Assert.Equal(fromLibrary.FrameErrors, reply.GetProperty("frame_errors").EnumerateArray().Select(e => e.GetSingle()));
    }

    [Fact]
    public async Task Activations_EqualTheEstimators_AsNpyOrJson()
    {
        var v = TestData.Uniform(InferenceTests.F, 23, seed: 9, low: 0.1f);
        using var estimator = new ActivationEstimator(served.NmfDir);
        var expected = estimator.Estimate(v, 7).Activations;
        var npy = new MemoryStream();
        NpyFile.Write(npy, v);
        using var response = await Client.PostAsync("/v1/models/nmf/activations?iterations=7", Body(npy.ToArray(), "application/x-npy"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/x-npy", response.Content.Headers.ContentType!.MediaType);
        var h = NpyFile.Parse(await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(expected.Shape, h.Shape);
        Assert.Equal(expected.Data, h.Data);

        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/models/nmf/activations") { Content = Body(npy.ToArray(), "application/octet-stream") };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        using var asJson = await Client.SendAsync(request);
        var json = await Json(asJson);
        Assert.Equal([InferenceTests.K, 23], json.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()));
        Assert.Equal(estimator.Estimate(v).Activations.Data, json.GetProperty("activations").EnumerateArray().Select(x => x.GetSingle()));
    }

    [Fact]
    public async Task ModelsHealthAndReadiness_AreListed()
    {
        var models = (await Json(await Client.GetAsync("/v1/models"))).GetProperty("models").EnumerateArray().ToList();
        Assert.Equal(["ae", "nmf"], models.Select(m => m.GetProperty("name").GetString()));
        Assert.Equal(["score"], models[0].GetProperty("endpoints").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(["activations"], models[1].GetProperty("endpoints").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("anomaly-autoencoder", models[0].GetProperty("manifest").GetProperty("kind").GetString());
        var one = await Json(await Client.GetAsync("/v1/models/nmf"));
        Assert.Equal("nmf", one.GetProperty("manifest").GetProperty("kind").GetString());
        Assert.Equal("ok", (await Json(await Client.GetAsync("/healthz"))).GetProperty("status").GetString());
        Assert.Equal("ready", (await Json(await Client.GetAsync("/readyz"))).GetProperty("status").GetString());
    }

    [Fact]
    public async Task BadRequests_GetTyped4xx_WithTheCommandLinesMessages()
    {
        var wav = File.ReadAllBytes(served.Anomaly.Result.Test[0].Clip.Path);
        // the command line's message for the same bytes as a file, with the file's name where the body's is
        string Cli(byte[] bytes)
        {
            var path = Path.Combine(TestData.TempDirectory(), "body.wav");
            File.WriteAllBytes(path, bytes);
            var e = Assert.ThrowsAny<PipelineException>(() => new AnomalyScorer(served.Anomaly.ModelDir).ScoreFile(path));
            return e.Message.Replace(path, "request body");
        }
        var npy = new MemoryStream();
        NpyFile.Write(npy, new NdArray([InferenceTests.F, 5], Enumerable.Repeat(-1f, InferenceTests.F * 5).ToArray()));
        var good = new MemoryStream();
        NpyFile.Write(good, TestData.Uniform(InferenceTests.F, 5, seed: 2));
        var cases = new (string Url, byte[] Body, string? Type, int Status, string Code, string? Message)[]
        {
            ("/v1/models/ae/score", [], "audio/wav", 400, "empty_body", "the request body is empty"),
            ("/v1/models/ae/score", "hello"u8.ToArray(), "audio/wav", 400, "invalid_audio", Cli("hello"u8.ToArray())),
            ("/v1/models/ae/score", wav[..100], "audio/wav", 400, "invalid_audio", Cli(wav[..100])),
            ("/v1/models/ae/score", wav[..1000], "audio/wav", 400, "invalid_audio", Cli(wav[..1000])),
            ("/v1/models/ae/score", wav, null, 415, "unsupported_media_type", null),
            ("/v1/models/ae/score", wav, "text/plain", 415, "unsupported_media_type", null),
            ("/v1/models/ae/score", "{\"samples\": [0.1, 0.2]}"u8.ToArray(), "application/json", 400, "invalid_json", "the JSON body: \"sample_rate\" is missing"),
            ("/v1/models/ae/score", "{\"samples\": [0.1, 1e39], \"sample_rate\": 16000}"u8.ToArray(), "application/json", 400, "invalid_audio", "request body: sample 1 (channel 0) is Infinity"),
            ("/v1/models/ae/score", "{\"samples\": [0.1], \"sample_rate\": 100}"u8.ToArray(), "application/json", 422, "unsupported_sample_rate", "request body: sampled at 100 Hz; this server takes 4000 to 384000 Hz (resampled to the model's rate)"),
            ("/v1/models/ae/score", "{\"samples\": [0.1], \"sample_rate\": 16000}"u8.ToArray(), "application/json", 400, "invalid_audio", null),
            ("/v1/models/ae/score", "{\"samples\": "u8.ToArray(), "application/json", 400, "invalid_json", null),
            ("/v1/models/ae/score", "{\"samples\": [1], \"rate\": 1}"u8.ToArray(), "application/json", 400, "invalid_json", null),
            ("/v1/models/nope/score", wav, "audio/wav", 404, "unknown_model", "no model 'nope'; this server has ae, nmf"),
            ("/v1/models/nmf/score", wav, "audio/wav", 400, "wrong_endpoint", "model 'nmf' is a 'nmf' model: it has no anomaly score (POST /v1/models/nmf/activations estimates its activations)"),
            ("/v1/models/ae/activations", npy.ToArray(), "application/x-npy", 400, "wrong_endpoint", null),
            ("/v1/models/nmf/activations", npy.ToArray(), "application/x-npy", 400, "invalid_input", null),
            ("/v1/models/nmf/activations", wav, "application/x-npy", 400, "invalid_input", null),
            ("/v1/models/nmf/activations", npy.ToArray(), "audio/wav", 415, "unsupported_media_type", null),
            ("/v1/models/nmf/activations?iterations=many", good.ToArray(), "application/x-npy", 400, "invalid_option", "iterations must be an integer, got 'many'"),
            ("/v1/models/nmf/activations?iterations=-3", good.ToArray(), "application/x-npy", 400, "invalid_option", "iterations must lie in [0, 100000], got -3"),
            ("/v1/models/ae/score?machine_id=id_02", wav, "audio/wav", 400, "invalid_option", "machine_id applies to models that score against machine IDs (the machine-ID classifier, clip statistics of two or more IDs); model 'ae' scores every clip alike"),
            ("/v2/score", wav, "audio/wav", 404, "not_found", null),
            ("/v1/models/ae/score", new byte[(1 << 20) + 1], "audio/wav", 413, "body_too_large", "the request body is 1048577 bytes; this server takes at most 1048576 bytes (--max-body-bytes)"),
        };
        foreach (var (url, body, type, status, code, message) in cases)
        {
            using var response = await Client.PostAsync(url, Body(body, type));
            var error = (await Json(response)).GetProperty("error");
            Assert.True(status == (int)response.StatusCode, $"{url} {type}: {(int)response.StatusCode} {error}");
            Assert.Equal(code, error.GetProperty("code").GetString());
            Assert.Equal(status, error.GetProperty("status").GetInt32());
            if (message is not null) Assert.Equal(message, error.GetProperty("message").GetString());
            Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
            if (status == 413) Assert.True(response.Headers.ConnectionClose, "a refused body stays unread: the connection must not be reused");
        }
        // a chunked body (no Content-Length) over the limit is cut off at the limit: the client reads the 413, or, when
        // the server's close reaches it first while it is still sending, gives up (the server then counts a 499)
        async Task<int> Refused() => Count(await Client.GetStringAsync("/metrics"), "413") + Count(await Client.GetStringAsync("/metrics"), "499");
        var refusedBefore = await Refused();
        using var chunked = new HttpRequestMessage(HttpMethod.Post, "/v1/models/ae/score") { Content = new StreamContent(new MemoryStream(new byte[3 << 20])) };
        chunked.Content.Headers.ContentType = new MediaTypeHeaderValue("audio/wav");
        chunked.Headers.TransferEncodingChunked = true;
        try
        {
            using var tooLarge = await Client.SendAsync(chunked);
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLarge.StatusCode);
        }
        catch (HttpRequestException) { }
        var counted = false;
        for (var i = 0; i < 100 && !counted; i++, await Task.Delay(20)) counted = await Refused() == refusedBefore + 1;
        Assert.True(counted, "the chunked upload over the limit was not refused");
        // chunked framing that is not chunked framing: the client is told, not dropped
        var uri = new Uri(served.Server.Address);
        using (var socket = new TcpClient())
        {
            await socket.ConnectAsync(uri.Host, uri.Port);
            await socket.GetStream().WriteAsync(Encoding.ASCII.GetBytes(
                $"POST /v1/models/ae/score HTTP/1.1\r\nHost: {uri.Authority}\r\nContent-Type: audio/wav\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"));
            var (status, body) = await Response(socket);
            Assert.Equal(400, status);
            Assert.Equal("malformed_body", JsonDocument.Parse(body).RootElement.GetProperty("error").GetProperty("code").GetString());
        }
        // and nothing took the server down or answered 5xx
        Assert.Equal(HttpStatusCode.OK, (await Client.GetAsync("/healthz")).StatusCode);
        Assert.DoesNotContain("status=\"5", await Client.GetStringAsync("/metrics"));
    }

    /// <summary>The count of score requests answered with <paramref name="status"/> in Prometheus text.</summary>
    static int Count(string metrics, string status)
    {
        var match = System.Text.RegularExpressions.Regex.Match(metrics, $"pipeline_requests_total\\{{model=\"ae\",endpoint=\"score\",status=\"{status}\"\\}} (\\d+)");
        return match.Success ? int.Parse(match.Groups[1].Value) : 0;
    }

    [Fact]
    public async Task AClientThatLeavesMidUpload_IsLoggedAndTheServerCarriesOn()
    {
        var uri = new Uri(served.Server.Address);
        bool Gone(IReadOnlyDictionary<string, object?> r) => r["Outcome"] as string == "client_closed";
        var (linesBefore, countedBefore) = (served.Requests.Count(Gone), Count(await Client.GetStringAsync("/metrics"), "499"));
        using (var socket = new TcpClient())
        {
            await socket.ConnectAsync(uri.Host, uri.Port);
            var stream = socket.GetStream();
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"POST /v1/models/ae/score HTTP/1.1\r\nHost: {uri.Authority}\r\nContent-Type: audio/wav\r\nContent-Length: 100000\r\n\r\n"));
            await stream.WriteAsync(new byte[1000]);
            await stream.FlushAsync();
            await Task.Delay(200);
        } // closed with 99,000 bytes unsent
        for (var i = 0; i < 100 && served.Requests.Count(Gone) == linesBefore; i++) await Task.Delay(50);
        var line = Assert.Single(served.Requests.Where(Gone).Skip(linesBefore));
        Assert.Equal(499, line["Status"]);
        Assert.Equal("ae", line["Model"]);
        Assert.Equal(HttpStatusCode.OK, (await Client.GetAsync("/healthz")).StatusCode);
        Assert.Equal(countedBefore + 1, Count(await Client.GetStringAsync("/metrics"), "499"));
    }

    [Fact]
    public async Task EveryRequest_IsOneLogLine_AndCountedInTheMetrics()
    {
        var wav = File.ReadAllBytes(served.Anomaly.Result.Test[1].Clip.Path);
        var responses = await Task.WhenAll(Enumerable.Range(0, 24).Select(_ => Client.PostAsync("/v1/models/ae/score", Body(wav, "audio/x-wav"))));
        var scores = await Task.WhenAll(responses.Select(async r => (await Json(r)).GetProperty("score").GetDouble()));
        Assert.Single(scores.Distinct()); // one shared session, 24 requests at once, one answer
        var lines = served.Requests.Where(r => r["Outcome"] is "normal" or "anomaly" && Equals(r["Score"], scores[0])).ToList();
        Assert.True(lines.Count >= 24);
        Assert.All(lines, l =>
        {
            Assert.Equal("ae", l["Model"]);
            Assert.Equal(200, l["Status"]);
            Assert.True((double)l["DurationMs"]! > 0);
        });
        var metrics = await Client.GetStringAsync("/metrics");
        Assert.Matches("pipeline_request_duration_seconds_bucket\\{model=\"ae\",endpoint=\"score\",le=\"0.001\"\\} \\d+", metrics);
        Assert.Contains("pipeline_request_duration_seconds_count{model=\"ae\",endpoint=\"score\"}", metrics);
        Assert.Contains("process_working_set_bytes", metrics);
        var count = System.Text.RegularExpressions.Regex.Match(metrics, "pipeline_requests_total\\{model=\"ae\",endpoint=\"score\",status=\"200\"\\} (\\d+)");
        Assert.True(int.Parse(count.Groups[1].Value) >= 24);
    }

    /// <summary>A request on a raw connection whose body is sent in part: the rest is the caller's to send.</summary>
    static async Task<TcpClient> Begin(string address, byte[] body, int sent)
    {
        var uri = new Uri(address);
        var socket = new TcpClient();
        await socket.ConnectAsync(uri.Host, uri.Port);
        var stream = socket.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"POST /v1/models/ae/score HTTP/1.1\r\nHost: {uri.Authority}\r\nContent-Type: audio/wav\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n"));
        await stream.WriteAsync(body.AsMemory(0, sent));
        await stream.FlushAsync();
        return socket;
    }

    /// <summary>The status line's code and the body of the response on <paramref name="socket"/> (read to its close).</summary>
    static async Task<(int Status, string Body)> Response(TcpClient socket)
    {
        using var reader = new StreamReader(socket.GetStream());
        var text = await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(30));
        return (int.Parse(text.Split(' ')[1]), text[(text.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..]);
    }

    static async Task WaitInFlight(string address, int count)
    {
        using var client = new HttpClient();
        for (var i = 0; i < 200; i++)
        {
            if ((await client.GetStringAsync(address + "/metrics")).Contains($"pipeline_requests_in_flight {count}")) return;
            await Task.Delay(25);
        }
        throw new TimeoutException("the request never arrived");
    }

    [Fact]
    public async Task Shutdown_FinishesRequestsInFlight_AndRefusesNewOnes()
    {
        await using var server = ScoringServer.Create(new ServerOptions { Models = new Dictionary<string, string> { ["ae"] = served.Anomaly.ModelDir }, Port = 0 },
            logging => { });
        await server.StartAsync();
        var wav = File.ReadAllBytes(served.Anomaly.Result.Test[0].Clip.Path);
        using var inFlight = await Begin(server.Address, wav, wav.Length / 2);
        await WaitInFlight(server.Address, 1);
        var stopping = server.StopAsync(); // as SIGTERM does
        await Task.Delay(300);
        await Assert.ThrowsAsync<HttpRequestException>(() => new HttpClient().GetAsync(server.Address + "/healthz"));
        Assert.False(stopping.IsCompleted);
        await inFlight.GetStream().WriteAsync(wav.AsMemory(wav.Length / 2));
        var (status, body) = await Response(inFlight);
        Assert.Equal(200, status);
        Assert.Equal(new AnomalyScorer(served.Anomaly.ModelDir).ScoreFile(served.Anomaly.Result.Test[0].Clip.Path).Score,
            JsonDocument.Parse(body).RootElement.GetProperty("score").GetDouble());
        await stopping.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task ASlowBody_TimesOut()
    {
        await using var server = ScoringServer.Create(new ServerOptions
        {
            Models = new Dictionary<string, string> { ["ae"] = served.Anomaly.ModelDir }, Port = 0, BodyTimeout = TimeSpan.FromSeconds(0.5),
        }, logging => { });
        await server.StartAsync();
        var wav = File.ReadAllBytes(served.Anomaly.Result.Test[0].Clip.Path);
        using var slow = await Begin(server.Address, wav, 1000);
        var (status, body) = await Response(slow);
        Assert.Equal(408, status);
        Assert.Equal("the request body did not arrive within 0.5 s", JsonDocument.Parse(body).RootElement.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public void BadOptionsAndModels_AreRefusedBeforeListening()
    {
        var options = Assert.Throws<InvalidOptionException>(() => ScoringServer.Create(new ServerOptions
        {
            Models = new Dictionary<string, string> { ["a b"] = served.NmfDir }, Port = 70000, MaxBodyBytes = 10, Host = "example.com",
        }));
        Assert.Equal("model name 'a b' must be letters, digits, '-', '_' or '.' (it is part of a URL); name it with --model NAME=DIR; port must lie in [0, 65535], got 70000; " +
            "the body limit must be at least 1024 bytes, got 10; host must be an IP address or localhost, got 'example.com'", options.Message);
        Assert.Throws<InvalidOptionException>(() => ScoringServer.Create(new ServerOptions()));
        var missing = Path.Combine(TestData.TempDirectory(), "missing");
        Assert.Throws<ModelContractException>(() => ScoringServer.Create(new ServerOptions { Models = new Dictionary<string, string> { ["m"] = missing } }));
    }
}
