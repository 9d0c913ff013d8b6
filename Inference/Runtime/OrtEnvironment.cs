namespace Pipeline.Inference.Runtime;

/// <summary>Severity threshold of ONNX Runtime's own log messages.</summary>
public enum OrtLogLevel { Verbose = 0, Info = 1, Warning = 2, Error = 3, Fatal = 4 }

/// <summary>
/// The one ONNX Runtime environment of the process (ONNX Runtime allows only one). It is created on first use
/// with the level given to <see cref="Configure"/>, or <see cref="OrtLogLevel.Warning"/>.
/// </summary>
public static unsafe class OrtEnvironment
{
    static readonly object Gate = new();
    static OrtLogLevel _level = OrtLogLevel.Warning;
    static OrtHandle? _handle;

    /// <summary>Sets the log level; only before the first session is created.</summary>
    public static void Configure(OrtLogLevel level)
    {
        lock (Gate)
        {
            if (_handle is not null && level != _level)
                throw new InvalidOperationException("the ONNX Runtime environment already exists; configure it before creating a session");
            _level = level;
        }
    }

    public static OrtLogLevel LogLevel => _level;

    /// <summary>The version of the loaded ONNX Runtime library.</summary>
    public static string RuntimeVersion => OrtApi.Version;

    /// <summary>Execution providers compiled into the loaded library.</summary>
    public static IReadOnlyList<string> AvailableProviders => OrtApi.AvailableProviders();

    internal static OrtHandle Handle
    {
        get
        {
            lock (Gate)
            {
                if (_handle is not null) return _handle;
                IntPtr env;
                fixed (byte* id = "pipeline\0"u8)
                    OrtApi.Check(((delegate* unmanaged<int, byte*, IntPtr*, IntPtr>)OrtApi.Fn(OrtApi.CreateEnv))((int)_level, id, &env));
                return _handle = new OrtHandle(env, OrtApi.ReleaseEnv);
            }
        }
    }
}
