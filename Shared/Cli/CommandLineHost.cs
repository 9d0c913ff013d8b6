using Pipeline.Shared.Errors;

namespace Pipeline.Shared.Cli;

/// <summary>
/// The exit-code contract of both command-line hosts: 0 success, 1 user error (one line, no stack trace),
/// 2 internal error (the exception's summary and a pointer to <c>--verbose</c>), 130 cancelled by Ctrl-C.
/// </summary>
public static class CommandLineHost
{
    public const int Success = 0, UserError = 1, InternalError = 2, Cancelled = 130;

    static readonly CancellationTokenSource cancellation = new();

    /// <summary>
    /// Cancelled by the first Ctrl-C (SIGINT) while <see cref="Run"/> runs: long work checks it at every step and
    /// stops there, before writing its outputs. A second Ctrl-C ends the process at once.
    /// </summary>
    public static CancellationToken Cancellation => cancellation.Token;

    /// <summary>Runs <paramref name="command"/> and maps what it throws to an exit code and one line on <paramref name="error"/>.</summary>
    public static int Run(Func<int> command, TextWriter error, bool verbose)
    {
        void OnCancel(object? sender, ConsoleCancelEventArgs e)
        {
            if (cancellation.IsCancellationRequested) return; // the second Ctrl-C: let the process end
            e.Cancel = true;
            cancellation.Cancel();
            error.WriteLine("stopping at the next step (Ctrl-C again to end at once)");
        }
        Console.CancelKeyPress += OnCancel;
        try
        {
            return command();
        }
        catch (PipelineException e)
        {
            if (e is BadInputFilesException bad)
                foreach (var problem in bad.Problems) error.WriteLine($"error: {problem.Message}");
            error.WriteLine($"error: {e.Message}");
            if (verbose) error.WriteLine(e);
            return UserError;
        }
        catch (AggregateException e) when (e.Flatten().InnerExceptions.All(i => i is PipelineException))
        {
            // parallel work that failed for the user's reasons: each once, as one line
            foreach (var message in e.Flatten().InnerExceptions.Select(i => i.Message).Distinct()) error.WriteLine($"error: {message}");
            return UserError;
        }
        catch (ArgumentException e) when (e.ParamName is "path" or "path1" or "path2" && e.Message.Contains("empty", StringComparison.OrdinalIgnoreCase))
        {
            error.WriteLine("error: a path given on the command line is empty (an unset shell variable?)");
            if (verbose) error.WriteLine(e);
            return UserError;
        }
        catch (Exception e) when (e is OperationCanceledException || e.InnerException is OperationCanceledException)
        {
            error.WriteLine("cancelled; no output was written");
            return Cancelled;
        }
        catch (Exception e)
        {
            error.WriteLine(verbose ? $"internal error: {e}" : $"internal error: {e.GetType().Name}: {e.Message} (run with --verbose for details)");
            return InternalError;
        }
        finally
        {
            Console.CancelKeyPress -= OnCancel;
        }
    }
}
