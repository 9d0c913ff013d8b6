namespace Pipeline.Shared.Threading;

/// <summary>
/// How many threads the toolkit's own parallel loops use (the hosts' <c>--threads</c>). Every <c>Parallel.For</c>
/// in Shared and Training passes <see cref="Options"/>; BLAS has its own setting, which the training host sets
/// alongside. 0 means one per core.
/// </summary>
public static class ComputeThreads
{
    static ParallelOptions options = new();

    /// <summary>The limit, or 0 for one thread per core.</summary>
    public static int Max
    {
        get => options.MaxDegreeOfParallelism is var m && m > 0 ? m : 0;
        set
        {
            if (value < 0) throw new Errors.InvalidOptionException($"threads must be ≥ 0 (0: one per core), got {value}");
            if (value > Limit) throw new Errors.InvalidOptionException($"threads must be at most {Limit} (4 per core here), got {value}");
            options = new ParallelOptions { MaxDegreeOfParallelism = value == 0 ? -1 : value };
        }
    }

    /// <summary>The most threads a setting may ask for: 4 per core (more only adds switching, and thousands exhaust the process table).</summary>
    public static int Limit => 4 * Environment.ProcessorCount;

    /// <summary>The options every parallel loop passes.</summary>
    public static ParallelOptions Options => options;

    /// <summary><see cref="Options"/> for a loop that <paramref name="cancellation"/> can stop.</summary>
    public static ParallelOptions Cancellable(CancellationToken cancellation) =>
        new() { MaxDegreeOfParallelism = options.MaxDegreeOfParallelism, CancellationToken = cancellation };
}
