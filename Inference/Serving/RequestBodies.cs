using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;
using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;

namespace Pipeline.Inference.Serving;

/// <summary>A client that went away before its request was read; no response can reach it.</summary>
sealed class ClientGoneException(Exception inner) : Exception("the client closed the connection", inner);

/// <summary>
/// Reads and decodes request bodies within the server's limits: an audio file (WAV, or AIFF, MP3, Ogg Vorbis, as the
/// command line reads them), a JSON body with samples and their rate, or a <c>.npy</c> array.
/// </summary>
static class RequestBodies
{
    /// <summary>The JSON form of a clip: <c>{"samples": [...], "sample_rate": 16000, "channels": 1}</c> (channels interleaved).</summary>
    sealed record JsonClip(float[]? Samples, double? SampleRate, int? Channels);

    static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    public const string AudioTypes = "audio/wav (or another audio/* type, or application/octet-stream) with a WAV, AIFF, MP3 or Ogg Vorbis file, or application/json with {\"samples\": [...], \"sample_rate\": N}";

    /// <summary>The request's body, whole, within the size and time limits.</summary>
    public static async Task<byte[]> Read(HttpContext http, ServerOptions options)
    {
        if (http.Request.ContentLength is { } declared && declared > options.MaxBodyBytes) throw TooLarge(declared, options);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
        timeout.CancelAfter(options.BodyTimeout);
        var buffer = new MemoryStream();
        try
        {
            await http.Request.Body.CopyToAsync(buffer, timeout.Token);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw TooLarge(null, options);
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status408RequestTimeout)
        {
            // Kestrel's minimum upload rate (240 bytes/s after a 5 s grace), which a trickling client falls below
            throw new ApiException(StatusCodes.Status408RequestTimeout, "body_timeout", "the request body arrived too slowly (under 240 bytes/s)");
        }
        catch (BadHttpRequestException e) when (!http.RequestAborted.IsCancellationRequested && !e.Message.StartsWith("Unexpected end of request content", StringComparison.Ordinal))
        {
            // bad chunked framing and the like: the client is there, and its request is malformed (a body cut short
            // by the client closing its side is a client gone, below)
            throw new ApiException(StatusCodes.Status400BadRequest, "malformed_body", $"the request body is malformed: {e.Message.TrimEnd('.')}");
        }
        catch (Exception e) when (http.RequestAborted.IsCancellationRequested || e is IOException or BadHttpRequestException && !timeout.IsCancellationRequested)
        {
            throw new ClientGoneException(e);
        }
        catch (OperationCanceledException)
        {
            throw new ApiException(StatusCodes.Status408RequestTimeout, "body_timeout", $"the request body did not arrive within {options.BodyTimeout.TotalSeconds:0.#} s");
        }
        if (buffer.Length == 0) throw new ApiException(StatusCodes.Status400BadRequest, "empty_body", "the request body is empty");
        return buffer.ToArray();
    }

    static ApiException TooLarge(long? size, ServerOptions options) => new(StatusCodes.Status413PayloadTooLarge, "body_too_large",
        $"the request body {(size is { } s ? $"is {s} bytes" : "is larger than the limit")}; this server takes at most {options.MaxBodyBytes} bytes (--max-body-bytes)");

    /// <summary>Whether the request carries JSON samples (true) or an audio file (false), from its Content-Type; checked before the body is read.</summary>
    public static bool IsJsonClip(HttpContext http)
    {
        var type = MediaType(http);
        if (type == "application/json") return true;
        if (type.StartsWith("audio/", StringComparison.Ordinal) || type == "application/octet-stream") return false;
        throw Unsupported(type, AudioTypes, "-H 'Content-Type: audio/wav' --data-binary @clip.wav");
    }

    /// <summary>Checks that the request carries a <c>.npy</c> array, before the body is read.</summary>
    public static void RequireArray(HttpContext http)
    {
        var type = MediaType(http);
        if (type is not ("application/octet-stream" or "application/x-npy" or "application/npy"))
            throw Unsupported(type, "application/x-npy (or application/octet-stream) with a .npy file", "-H 'Content-Type: application/x-npy' --data-binary @V.npy");
    }

    /// <summary>The clip in the body: an audio file, or JSON samples (<see cref="IsJsonClip"/>).</summary>
    /// <exception cref="Pipeline.Shared.Errors.InvalidAudioException">Audio the command line would refuse too (the caller maps it to a 4xx).</exception>
    public static AudioClip Clip(byte[] body, bool json, ServerOptions options)
    {
        AudioClip clip;
        if (json)
        {
            JsonClip? parsed;
            try { parsed = JsonSerializer.Deserialize<JsonClip>(body, Json); }
            catch (JsonException e)
            {
                // System.Text.Json's messages name .NET types; the path and line say enough
                var where = e.Path is { Length: > 1 } path ? $" at {path}" : "";
                throw new ApiException(400, "invalid_json", $"the JSON body cannot be read{where} (line {e.LineNumber + 1}): expected {{\"samples\": [numbers], \"sample_rate\": N, \"channels\": N}} and nothing else");
            }
            var problems = new List<string>();
            if (parsed?.Samples is not { Length: > 0 }) problems.Add("\"samples\" is missing or empty");
            if (parsed?.SampleRate is null) problems.Add("\"sample_rate\" is missing");
            else if (parsed.SampleRate != Math.Floor(parsed.SampleRate.Value) || parsed.SampleRate is < 1 or > int.MaxValue)
                problems.Add($"\"sample_rate\" must be a whole number of Hz, got {parsed.SampleRate.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
            var channels = parsed?.Channels ?? 1;
            if (channels < 1) problems.Add($"\"channels\" must be ≥ 1, got {channels}");
            else if (parsed?.Samples is { Length: > 0 } s && s.Length % channels != 0) problems.Add($"{s.Length} samples do not split into {channels} channels");
            if (problems.Count > 0) throw new ApiException(400, "invalid_json", "the JSON body: " + string.Join("; ", problems));
            clip = new AudioClip(parsed!.Samples!, (int)parsed.SampleRate!.Value, channels);
            AudioFile.RequireFinite(clip, "request body"); // a number beyond float32's range reads as ±∞
        }
        else
        {
            // not mixed down or resampled here: the scorer does both and notes them, as for a file
            clip = AudioFile.Read(new MemoryStream(body, writable: false), "request body", new AudioReadOptions { Mono = false });
        }
        if (clip.SampleRate < options.MinSampleRate || clip.SampleRate > options.MaxSampleRate)
            throw new ApiException(422, "unsupported_sample_rate",
                $"request body: sampled at {clip.SampleRate} Hz; this server takes {options.MinSampleRate} to {options.MaxSampleRate} Hz (resampled to the model's rate)");
        return clip;
    }

    /// <summary>The <c>.npy</c> array in the body.</summary>
    public static NdArray Array(byte[] body) => NpyFile.Parse(body, "request body");

    static string MediaType(HttpContext http) =>
        (http.Request.ContentType ?? "").Split(';')[0].Trim().ToLowerInvariant();

    static ApiException Unsupported(string type, string accepted, string curl) => new(StatusCodes.Status415UnsupportedMediaType, "unsupported_media_type",
        $"{(type.Length == 0 ? "no Content-Type" : $"Content-Type {type}")}: send {accepted} (with curl: {curl})");
}
