using Pipeline.Benchmarks;

// ./run bench [nmf|ae-train|ae-forward|frontend|score|serve|gmm|vae|decompose|detectors|all]   — measured figures beside this machine's limits
// ./run demo             — Demo/DemoRun: every model family on synthetic data, and the HTML report
var command = args.Length > 0 ? args[0] : "bench";
switch (command)
{
    case "bench":
    {
        var name = args.Length > 1 ? args[1] : "all";
        var benchmarks = new Dictionary<string, Action<MachineLimits>>
        {
            ["nmf"] = NmfBenchmark.Run,
            ["ae-train"] = AutoencoderBenchmark.Train,
            ["ae-forward"] = AutoencoderBenchmark.Forward,
            ["frontend"] = FrontEndBenchmark.Run,
            ["score"] = ScoreBenchmark.Run,
            ["serve"] = ServeBenchmark.Run,
            ["gmm"] = MixtureBenchmark.Run,
            ["vae"] = VaeBenchmark.Run,
            ["decompose"] = DecomposeBenchmark.Run,
            ["detectors"] = DetectorBenchmark.Run,
        };
        if (name != "all" && !benchmarks.ContainsKey(name))
        {
            Console.Error.WriteLine($"unknown benchmark '{name}'; available: {string.Join(", ", benchmarks.Keys)}, all");
            return 1;
        }
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores; measuring limits...");
        var limits = MachineLimits.Measure();
        Console.WriteLine($"sgemm {limits.SgemmGflops:F1} GFLOP/s (LibTorch's BLAS, 2048², the rooflines' rate), memory bandwidth {limits.BandwidthGBs:F1} GB/s");
        Console.WriteLine();
        foreach (var (key, run) in benchmarks)
            if (name == "all" || name == key)
            {
                run(limits);
                Console.WriteLine();
            }
        return 0;
    }
    case "demo":
        try
        {
            // demo [--small] [--quiet] [--root DIR]: the hosts of this repository, outputs under DIR/artifacts (default: here)
            var at = Array.IndexOf(args, "--root");
            var root = at > 0 && at + 1 < args.Length ? args[at + 1] : Directory.GetCurrentDirectory();
            var size = args.Contains("--small") ? Pipeline.Benchmarks.Demo.DemoRun.Size.Small : Pipeline.Benchmarks.Demo.DemoRun.Size.Full;
            return Pipeline.Benchmarks.Demo.DemoRun.Run(Directory.GetCurrentDirectory(), root, size, quiet: args.Contains("--quiet"));
        }
        catch (Pipeline.Benchmarks.Demo.DemoException e)
        {
            Console.Error.WriteLine($"demo: {e.Message}");
            return 1;
        }
    default:
        Console.Error.WriteLine($"unknown command '{command}'; use bench [name] or demo");
        return 1;
}
