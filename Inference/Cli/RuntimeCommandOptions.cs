using System.CommandLine;
using Microsoft.ML.OnnxRuntime;
using Pipeline.Inference.Runtime;

/// <summary>
/// The ONNX Runtime options every inference command takes: <c>--device</c>, <c>--graph-optimization</c>,
/// <c>--cpu-arena</c> (with the common <c>--threads</c>), and how a command says which provider ran.
/// </summary>
sealed class RuntimeCommandOptions(CommonOptions common)
{
    public Option<Device> Device { get; } = DeviceOption.Create(
        "Where the model runs: cpu, cuda, or auto (CUDA when ONNX Runtime's CUDA provider loads here, else the CPU)");

    // a string, not the enum: help would list ONNX Runtime's enum names, which the parser does not take
    public Option<string> GraphOptimization { get; } = new("--graph-optimization")
    {
        Description = "How much ONNX Runtime rewrites the graph before running it: disabled, basic, extended or all",
        Recursive = true, DefaultValueFactory = _ => "all",
        Validators =
        {
            r =>
            {
                var value = r.GetValueOrDefault<string>()?.ToLowerInvariant();
                if (value is not ("disabled" or "basic" or "extended" or "all"))
                    r.AddError($"--graph-optimization must be disabled, basic, extended or all, got '{value}'");
            },
        },
    };

    static GraphOptimizationLevel OptimizationLevel(string value) => value.ToLowerInvariant() switch
    {
        "disabled" => GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic" => GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended" => GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        _ => GraphOptimizationLevel.ORT_ENABLE_ALL,
    };

    // a string, not a bool: System.CommandLine leaves a bool option's bad value unparsed ("unrecognized argument")
    public Option<string> CpuArena { get; } = new("--cpu-arena")
    {
        Description = "Keep ONNX Runtime's CPU memory arena between runs: true (the default) or false (free intermediates after each run)",
        Recursive = true, DefaultValueFactory = _ => "true",
        CustomParser = r => r.Tokens.Single().Value.ToLowerInvariant() is "true" or "false" ? r.Tokens.Single().Value.ToLowerInvariant()
            : CommonOptions.Refuse<string>(r, $"--cpu-arena must be true or false, got '{r.Tokens.Single().Value}'"),
    };

    public IEnumerable<Option> All => [Device, GraphOptimization, CpuArena];

    public RuntimeOptions Create(ParseResult parse) => new()
    {
        Device = parse.GetValue(Device),
        IntraOpThreads = parse.GetValue(common.Threads),
        OptimizationLevel = OptimizationLevel(parse.GetValue(GraphOptimization)!),
        CpuMemoryArena = parse.GetValue(CpuArena) == "true",
    };

    /// <summary>With <c>--verbose</c>, one line on the log naming the provider that ran (and why not CUDA, when auto tried it).</summary>
    public void Report(ParseResult parse, ModelSession session)
    {
        if (!parse.GetValue(common.Verbose)) return;
        var log = common.Log(parse);
        log.WriteLine($"ONNX Runtime {OnnxRuntimeEnvironment.Version}: running on {session.Provider}");
        if (session.CudaUnavailable is { } why) log.WriteLine($"  (auto: {why})");
    }
}
