using Pipeline.Shared.Errors;

namespace Pipeline.Shared.Cli;

/// <summary>
/// The exit-code contract of both command-line hosts: 0 success, 1 user error (one line, no stack trace),
/// 2 internal error (the exception's summary and a pointer to <c>--verbose</c>), 130 cancelled.
/// </summary>
public static class CommandLineHost
{
    public const int Success = 0, UserError = 1, InternalError = 2, Cancelled = 130;

    /// <summary>Runs <paramref name="command"/> and maps what it throws to an exit code and one line on <paramref name="error"/>.</summary>
    public static int Run(Func<int> command, TextWriter error, bool verbose)
    {
        try
        {
            return command();
        }
        catch (PipelineException e)
        {
            error.WriteLine($"error: {e.Message}");
            if (verbose) error.WriteLine(e);
            return UserError;
        }
        catch (OperationCanceledException)
        {
            error.WriteLine("cancelled; nothing was written");
            return Cancelled;
        }
        catch (Exception e)
        {
            error.WriteLine(verbose ? $"internal error: {e}" : $"internal error: {e.GetType().Name}: {e.Message} (run with --verbose for details)");
            return InternalError;
        }
    }
}
