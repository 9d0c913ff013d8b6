using Pipeline.Shared.Cli;
using Pipeline.Shared.Errors;
using Pipeline.Training.Native;

namespace Pipeline.Training.Tests;

public class NativeLibrariesTests
{
    [Fact]
    public void MissingLibrary_FailsWithOneLineNamingItAndTheInstallCommand()
    {
        var spec = new NativeLibrarySpec("nothing", "libpipeline-does-not-exist.so.7", "a test library", "apt-get install pipeline-nothing");
        var e = Assert.Throws<NativeLibraryMissingException>(() => NativeLibraries.Load(spec));
        Assert.Contains("libpipeline-does-not-exist.so.7", e.Message);
        Assert.Contains("apt-get install pipeline-nothing", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void InstalledLibraries_Load()
    {
        foreach (var spec in new[] { NativeLibraries.Blas })
            Assert.NotEqual(IntPtr.Zero, NativeLibraries.Load(spec));
        Assert.NotEqual(IntPtr.Zero, NativeLibraries.GetExport(NativeLibraries.Blas, "cblas_sgemm"));
        Assert.Throws<NativeLibraryMissingException>(() => NativeLibraries.GetExport(NativeLibraries.Blas, "no_such_symbol"));
    }

    [Fact]
    public void SearchDirectories_AreTheOverrideAlone()
    {
        // Nothing is looked for inside the repository: the product's natives are Debian's, ONNX Runtime's come from NuGet.
        var previous = Environment.GetEnvironmentVariable(NativeLibraries.DirectoryVariable);
        try
        {
            Environment.SetEnvironmentVariable(NativeLibraries.DirectoryVariable, null);
            Assert.Empty(NativeLibraries.SearchDirectories());
            Environment.SetEnvironmentVariable(NativeLibraries.DirectoryVariable, "/opt/mine");
            Assert.Equal(["/opt/mine"], NativeLibraries.SearchDirectories());
        }
        finally { Environment.SetEnvironmentVariable(NativeLibraries.DirectoryVariable, previous); }
    }

    [Fact]
    public void CommandLineHost_MapsErrorsToExitCodes()
    {
        var error = new StringWriter();
        Assert.Equal(0, CommandLineHost.Run(() => 0, error, verbose: false));
        Assert.Equal(1, CommandLineHost.Run(() => throw new InvalidInputException("bad V"), error, verbose: false));
        Assert.Equal(2, CommandLineHost.Run(() => throw new NullReferenceException("oops"), error, verbose: false));
        var lines = error.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("error: bad V", lines[0]);
        Assert.StartsWith("internal error: NullReferenceException: oops", lines[1]);
        Assert.Contains("--verbose", lines[1]);
        Assert.Equal(2, lines.Length);
    }
}
