using Pipeline.Shared.Arrays;

namespace Pipeline.Benchmarks;

/// <summary>
/// scikit-learn's time per iteration on the same data, from Debian's python3-sklearn (<c>sklearn_peer.py</c>), run
/// after our own measurement so the two never share the cores. <c>OPENBLAS_CORETYPE</c> and <c>OPENBLAS_L2_SIZE</c>
/// are removed from its environment, so numpy's OpenBLAS picks its kernels itself.
/// </summary>
static class ScikitLearnPeer
{
    /// <summary>Milliseconds per iteration by setting ("2", "diag", ...), empty (with a line saying why) when it cannot run.</summary>
    public static Dictionary<string, double> PerIteration(string kind, NdArray data, IEnumerable<string> settings)
    {
        var directory = Directory.CreateTempSubdirectory("pipeline-bench-");
        try
        {
            var path = Path.Combine(directory.FullName, "data.npy");
            NpyFile.Write(path, data);
            return PythonPeer.Run("sklearn_peer.py", [kind, path, .. settings], "scikit-learn", "python3-sklearn", environment =>
            {
                environment.Remove("OPENBLAS_CORETYPE");
                environment.Remove("OPENBLAS_L2_SIZE");
            });
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
