using System.Diagnostics;
using Pipeline.Shared.Cli;
using Spectre.Console;

/// <summary>
/// Compiled into both hosts (Spectre.Console stays out of the Shared library).
/// Progress of long work. On a terminal: a Spectre.Console bar with the step count, the current loss (or file),
/// elapsed time and ETA, redrawn in place on standard error. With <c>--quiet</c> nothing; when standard error is
/// not a terminal (a log file, CI), plain lines about every 10 %. Every update is also where Ctrl-C takes effect:
/// it throws <see cref="OperationCanceledException"/> so the command stops at the next step, before anything is
/// written. A <c>transient</c> bar (one epoch of many) is cleared when done and writes no lines off a terminal.
/// </summary>
sealed class ProgressBar : IDisposable
{
    readonly TextWriter log;
    readonly int total;
    readonly string label;
    readonly bool transient;
    readonly Stopwatch clock = Stopwatch.StartNew();
    readonly Lock gate = new();
    readonly TaskCompletionSource finished = new();
    readonly Task? rendering;
    readonly ProgressTask? task;
    int lastDecile = -1;
    bool disposed;

    public ProgressBar(TextWriter log, int total, string label, bool transient = false)
    {
        (this.log, this.total, this.label, this.transient) = (log, Math.Max(total, 0), label, transient);
        if (!ReferenceEquals(log, Console.Error) || Console.IsErrorRedirected) return;
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
        var started = new TaskCompletionSource<ProgressTask>();
        // Spectre draws from its own thread while the work runs on ours; the bar lives until Dispose
        rendering = console.Progress().AutoClear(transient).HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .StartAsync(async context =>
            {
                started.SetResult(context.AddTask(Markup.Escape(label), maxValue: Math.Max(total, 1)));
                await finished.Task;
            });
        task = started.Task.Result;
    }

    /// <summary>Reports <paramref name="done"/> of the total steps, with a short detail such as the loss.</summary>
    public void Update(int done, string detail)
    {
        CommandLineHost.Cancellation.ThrowIfCancellationRequested();
        lock (gate)
        {
            if (disposed) return;
            if (task is not null)
            {
                task.Value = done;
                task.Description = Markup.Escape(string.IsNullOrEmpty(detail) ? label : $"{label}  {detail}");
                return;
            }
            var fraction = total == 0 ? 1 : (double)done / total;
            if (transient || (int)(fraction * 10) <= lastDecile) return;
            lastDecile = (int)(fraction * 10);
            var eta = done == 0 ? TimeSpan.Zero : TimeSpan.FromSeconds(clock.Elapsed.TotalSeconds / done * (total - done));
            log.WriteLine($"{label}: {done}/{total} ({fraction:P0}), ETA {eta:mm\\:ss}{(string.IsNullOrEmpty(detail) ? "" : "  " + detail)}");
        }
    }

    public void Dispose()
    {
        lock (gate)
        {
            if (disposed) return;
            disposed = true;
        }
        if (task is not null) task.StopTask();
        finished.TrySetResult();
        rendering?.Wait();
    }
}
