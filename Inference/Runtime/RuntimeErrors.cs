using System.Text.RegularExpressions;
using Pipeline.Shared.Errors;

namespace Pipeline.Inference.Runtime;

/// <summary>
/// ONNX Runtime refused a model or a run: a file that is not a model, a truncated one, an opset or operator it
/// lacks, a tensor whose shape the graph cannot take. The message is ONNX Runtime's, on one line, after what was
/// being done.
/// </summary>
public sealed partial class ModelRuntimeException : PipelineException
{
    ModelRuntimeException(string message, string code, Exception inner) : base(message, inner) => Code = code;

    /// <summary>ONNX Runtime's error code (<c>InvalidProtobuf</c>, <c>InvalidGraph</c>, <c>InvalidArgument</c>, ...).</summary>
    public string Code { get; }

    /// <summary>Wraps ONNX Runtime's exception: <c>"{context}: {ONNX Runtime's message} ({code})"</c>.</summary>
    public static ModelRuntimeException From(Microsoft.ML.OnnxRuntime.OnnxRuntimeException e, string context)
    {
        var (code, detail) = Split(e.Message);
        return new ModelRuntimeException($"{context}: {detail} ({code})", code, e);
    }

    /// <summary>ONNX Runtime's messages start with <c>[ErrorCode:Name]</c>; the rest may span lines.</summary>
    internal static (string Code, string Detail) Split(string message)
    {
        var match = ErrorCodePrefix().Match(message);
        var code = match.Success ? match.Groups[1].Value : "Fail";
        var detail = message[(match.Success ? match.Length : 0)..];
        detail = SourceLocation().Replace(detail, "");
        return (code, Whitespace().Replace(detail, " ").Trim());
    }

    [GeneratedRegex(@"^\s*\[ErrorCode:(\w+)\]\s*")]
    private static partial Regex ErrorCodePrefix();

    /// <summary>"/onnxruntime_src/…/file.h:46 void onnxruntime::f(const T&amp;…) " before the sentence a user needs.</summary>
    [GeneratedRegex(@"/onnxruntime_src/\S+:\d+\s+(?:[^\n]*?\)\s+(?=[A-Z\[]))?")]
    private static partial Regex SourceLocation();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}

/// <summary>The device asked for cannot be used here (no CUDA provider in this ONNX Runtime, or its libraries or driver missing).</summary>
public sealed class DeviceUnavailableException(string message, Exception? inner = null) : PipelineException(message, inner);
