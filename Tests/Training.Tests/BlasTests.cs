using Pipeline.Training.Native;
using Pipeline.Training.Linalg;

namespace Pipeline.Training.Tests;

public class BlasTests
{
    [Fact]
    public void OpenBlas_RunsTheKernelsChosenFromTheCpusInstructionSets()
    {
        // a product first, so the library is loaded the way every training run loads it
        var c = new float[4];
        Blas.MatMul([1, 2, 3, 4], [5, 6, 7, 8], c, 2, 2, 2);
        Assert.Equal(new float[] { 19, 22, 43, 50 }, c);
        var expected = Environment.GetEnvironmentVariable(OpenBlasCore.Variable);
        Assert.False(string.IsNullOrEmpty(expected) && OpenBlasCore.ForThisCpu() is not null, "the core type was not set before BLAS loaded");
        if (string.IsNullOrEmpty(expected)) return; // no AVX2: OpenBLAS keeps its own choice
        // OpenBLAS read the variable from the C library's environment: it names the same core
        Assert.Equal(expected, Blas.Core, StringComparer.OrdinalIgnoreCase);
    }
}
