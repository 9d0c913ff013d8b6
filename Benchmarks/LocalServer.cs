using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Pipeline.Benchmarks;

/// <summary>
/// A <c>pipeline-infer serve</c> process on this machine, as the serving benchmark and the bundle's tests start one
/// (the tests compile this file too).
/// </summary>
static class LocalServer
{
    /// <summary>A loopback port nobody is listening on now.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Polls <c>/readyz</c> every 100 ms until it answers 200.</summary>
    /// <exception cref="InvalidOperationException">The server ended first (its standard error in the message).</exception>
    /// <exception cref="TimeoutException">It was not ready within <paramref name="timeout"/>.</exception>
    public static async Task WaitUntilReady(HttpClient client, Process server, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            if (server.HasExited) throw new InvalidOperationException("the server ended: " + await server.StandardError.ReadToEndAsync());
            try
            {
                if ((await client.GetAsync("/readyz")).StatusCode == HttpStatusCode.OK) return;
            }
            catch (HttpRequestException) { }
            await Task.Delay(100);
        }
        throw new TimeoutException("the server never became ready");
    }
}
