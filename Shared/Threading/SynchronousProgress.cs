namespace Pipeline.Shared.Threading;

/// <summary>
/// An <see cref="IProgress{T}"/> that reports on the calling thread, in order, before the work goes on
/// (<see cref="Progress{T}"/> posts to the thread pool, so its reports can arrive late and out of order). An exception
/// thrown by the handler (Ctrl-C seen by a progress bar, say) stops the work that reported.
/// </summary>
public sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    /// <inheritdoc/>
    public void Report(T value) => report(value);
}
