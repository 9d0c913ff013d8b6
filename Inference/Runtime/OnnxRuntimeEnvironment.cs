using Microsoft.ML.OnnxRuntime;

namespace Pipeline.Inference.Runtime;

/// <summary>
/// The process's one ONNX Runtime environment (<see cref="OrtEnv"/>), created on first use with a logging function
/// of ours: ONNX Runtime's messages at <see cref="LogLevel"/> or above go to <see cref="Log"/> as plain lines, and
/// while a session is being set up they are also kept, so that an error can name what ONNX Runtime only logged
/// (the library a provider failed to load, for instance).
/// </summary>
public static class OnnxRuntimeEnvironment
{
    static readonly object Gate = new();
    // ONNX Runtime keeps a pointer to this delegate for the life of the process.
    static readonly DOrtLoggingFunction Sink = OnMessage;
    // Warnings are ONNX Runtime's notes to itself (an initializer that is also an input, the exported graphs'
    // overridable iteration count, disables a constant fold): errors are what a user can act on.
    static OrtLoggingLevel level = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR;
    static OrtEnv? instance;
    [ThreadStatic] static List<string>? captured;

    /// <summary>Where ONNX Runtime's messages go (standard error by default; null: nowhere).</summary>
    public static TextWriter? Log { get; set; } = Console.Error;

    /// <summary>The least severe message that is passed on; <see cref="OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR"/> by default.</summary>
    public static OrtLoggingLevel LogLevel
    {
        get => level;
        set
        {
            lock (Gate)
            {
                level = value;
                if (instance is not null) instance.EnvLogLevel = value;
            }
        }
    }

    /// <summary>The environment, created on first use (or taken over when the embedding program made it first).</summary>
    public static OrtEnv Instance
    {
        get
        {
            lock (Gate)
            {
                if (instance is not null) return instance;
                if (OrtEnv.IsCreated) return instance = OrtEnv.Instance();
                var options = new EnvironmentCreationOptions { logId = "pipeline", logLevel = level, loggingFunction = Sink };
                return instance = OrtEnv.CreateInstanceWithOptions(ref options);
            }
        }
    }

    /// <summary>The version of the loaded ONNX Runtime, e.g. <c>1.31.0</c>.</summary>
    public static string Version => Instance.GetVersionString();

    /// <summary>Execution providers compiled into the loaded native library, e.g. <c>CPUExecutionProvider</c>.</summary>
    public static IReadOnlyList<string> AvailableProviders => Instance.GetAvailableProviders();

    /// <summary>Runs <paramref name="action"/>, keeping in <paramref name="messages"/> what ONNX Runtime logs on this thread meanwhile (also when it throws).</summary>
    internal static T Capture<T>(List<string> messages, Func<T> action)
    {
        _ = Instance;
        var outer = captured;
        captured = messages;
        try { return action(); }
        finally { captured = outer; }
    }

    static void OnMessage(IntPtr param, OrtLoggingLevel severity, string category, string logId, string codeLocation, string message)
    {
        if (captured is { } list)
        {
            list.Add(message);
            return;
        }
        if (severity >= level) Log?.WriteLine($"onnxruntime {Severity(severity)}: {message}");
    }

    static string Severity(OrtLoggingLevel severity) => severity switch
    {
        OrtLoggingLevel.ORT_LOGGING_LEVEL_VERBOSE => "verbose",
        OrtLoggingLevel.ORT_LOGGING_LEVEL_INFO => "info",
        OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING => "warning",
        OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR => "error",
        _ => "fatal",
    };
}
