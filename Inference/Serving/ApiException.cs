using Pipeline.Shared.Errors;

namespace Pipeline.Inference.Serving;

/// <summary>
/// A request the server refuses: an HTTP status (4xx for a client's fault, 5xx only for the server's own), a stable machine-readable code and
/// the message a user reads, which for bad audio or arrays is the command line's own.
/// </summary>
public sealed class ApiException(int status, string code, string message) : Exception(message)
{
    /// <summary>The HTTP status.</summary>
    public int Status { get; } = status;

    /// <summary>A short snake_case name of the problem (<c>invalid_audio</c>, <c>unknown_model</c>, …).</summary>
    public string Code { get; } = code;

    /// <summary>The response for a problem the library reports with a <see cref="PipelineException"/>.</summary>
    public static ApiException From(PipelineException e) => e switch
    {
        InvalidAudioException => new(400, "invalid_audio", e.Message),
        InvalidInputException => new(400, "invalid_input", e.Message),
        InvalidFileException => new(400, "invalid_input", e.Message),
        InvalidOptionException => new(400, "invalid_option", e.Message),
        ModelContractException => new(400, "wrong_model", e.Message),
        // the server's own setup, not the request: a 5xx, so that a load balancer tries another instance
        NativeLibraryMissingException => new(500, "server_setup", e.Message),
        _ => new(422, "unprocessable", e.Message),
    };
}
