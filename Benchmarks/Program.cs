using Pipeline.Benchmarks;

// ./run bench [nmf|all]   — measured figures beside this machine's limits
// ./run demo              — see DemoData and the run script
var command = args.Length > 0 ? args[0] : "bench";
switch (command)
{
    case "bench":
    {
        var name = args.Length > 1 ? args[1] : "all";
        if (name is not ("nmf" or "all"))
        {
            Console.Error.WriteLine($"unknown benchmark '{name}'; available: nmf, all");
            return 1;
        }
        Console.WriteLine($"machine: {Environment.ProcessorCount} cores; measuring limits...");
        var limits = MachineLimits.Measure();
        Console.WriteLine($"sgemm {limits.SgemmGflops:F1} GFLOP/s, memory bandwidth {limits.BandwidthGBs:F1} GB/s");
        Console.WriteLine();
        NmfBenchmark.Run(limits);
        return 0;
    }
    case "demo-data":
        DemoData.Write(args.Length > 1 ? args[1] : "artifacts/demo");
        return 0;
    default:
        Console.Error.WriteLine($"unknown command '{command}'; use bench [name] or demo-data [dir]");
        return 1;
}
