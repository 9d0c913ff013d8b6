using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;
using Pipeline.Tests;

namespace Pipeline.Shared.Tests;

public class NpyFileTests
{
    [Theory]
    [InlineData(new[] { 3, 4 })]
    [InlineData(new[] { 7 })]
    [InlineData(new[] { 2, 3, 5 })]
    [InlineData(new[] { 0, 4 })]
    public void Npy_WriteThenRead_RoundTrips(int[] shape)
    {
        var count = shape.Aggregate(1, (a, b) => a * b);
        var data = Enumerable.Range(0, count).Select(i => i * 0.25f - 3f).ToArray();
        var path = Path.Combine(TestData.TempDirectory(), "a.npy");
        NpyFile.Write(path, new NdArray(shape, data));
        var back = NpyFile.Read(path);
        Assert.Equal(shape, back.Shape);
        Assert.Equal(data, back.Data);
    }

    [Fact]
    public void Npy_FilesWrittenByNumPy_AreRead_AndOursAreReadByNumPy()
    {
        var dir = TestData.TempDirectory();
        NpyFile.Write(Path.Combine(dir, "ours.npy"), new NdArray([2, 3], [1, 2, 3, 4, 5, 6.5f]));
        var printed = TestData.Python($$"""
            import numpy as np
            d = '{{dir}}'
            np.save(d + '/f8.npy', np.arange(6, dtype=np.float64).reshape(2, 3) / 4)
            np.save(d + '/big.npy', (np.arange(4, dtype='>f4') + 0.5).reshape(4, 1))
            np.save(d + '/f4.npy', np.full((3, 2), 1.25, dtype=np.float32))
            np.save(d + '/fortran2.npy', np.arange(6, dtype=np.float32).reshape(3, 2).T)
            np.save(d + '/fortran3.npy', np.asfortranarray(np.arange(24, dtype=np.float64).reshape(2, 3, 4)))
            assert np.load(d + '/fortran3.npy').flags['F_CONTIGUOUS']
            a = np.load(d + '/ours.npy')
            print(a.dtype, a.shape, float(a.sum()))
            """);
        Assert.Equal("float32 (2, 3) 21.5", printed.Trim());
        Assert.Equal([0, 0.25f, 0.5f, 0.75f, 1, 1.25f], NpyFile.Read(Path.Combine(dir, "f8.npy")).Data);
        var big = NpyFile.Read(Path.Combine(dir, "big.npy"));
        Assert.Equal([4, 1], big.Shape);
        Assert.Equal([0.5f, 1.5f, 2.5f, 3.5f], big.Data);
        Assert.All(NpyFile.Read(Path.Combine(dir, "f4.npy")).Data, x => Assert.Equal(1.25f, x));
        // Fortran order (np.save of a transpose) is read as NumPy reads it: the same values at the same indices
        var transposed = NpyFile.Read(Path.Combine(dir, "fortran2.npy"));
        Assert.Equal([2, 3], transposed.Shape);
        Assert.Equal([0, 2, 4, 1, 3, 5], transposed.Data);
        var cube = NpyFile.Read(Path.Combine(dir, "fortran3.npy"));
        Assert.Equal([2, 3, 4], cube.Shape);
        Assert.Equal(Enumerable.Range(0, 24).Select(i => (float)i), cube.Data);
    }

    [Fact]
    public void Npy_BadFiles_AreTypedErrorsNamingTheFile()
    {
        var dir = TestData.TempDirectory();
        var good = Path.Combine(dir, "good.npy");
        NpyFile.Write(good, new NdArray([4, 4], new float[16]));
        var bytes = File.ReadAllBytes(good);

        void Expect(string name, byte[] content, string fragment)
        {
            var path = Path.Combine(dir, name);
            File.WriteAllBytes(path, content);
            var e = Assert.Throws<InvalidFileException>(() => NpyFile.Read(path));
            Assert.Contains(path, e.Message);
            Assert.Contains(fragment, e.Message);
        }

        Expect("text.npy", "hello, this is not numpy"u8.ToArray(), "not a .npy file");
        Expect("empty.npy", [], "not a .npy file");
        Expect("short-header.npy", bytes[..40], "truncated .npy header");
        Expect("short-data.npy", bytes[..(bytes.Length - 4)], "truncated .npy data");
        Expect("huge.npy", Patch(bytes, "'shape': (4, 4), }" + new string(' ', 18), "'shape': (2147483647, 2147483647), }"), "holds more values than one array can");
        Expect("large.npy", Patch(bytes, "'shape': (4, 4), }" + new string(' ', 8), "'shape': (32768, 32768), }"), "truncated .npy data: shape (32768, 32768) needs 4294967296 bytes");
        Expect("ints.npy", Patch(bytes, "<f4", "<i4"), "unsupported dtype");
        var missing = Path.Combine(dir, "missing.npy");
        Assert.Contains("not found", Assert.Throws<InvalidFileException>(() => NpyFile.Read(missing)).Message);
    }

    /// <summary>Replaces an equally long ASCII fragment of the header, leaving the binary magic intact.</summary>
    static byte[] Patch(byte[] bytes, string from, string to)
    {
        var pattern = System.Text.Encoding.ASCII.GetBytes(from);
        var at = bytes.AsSpan().IndexOf(pattern);
        Assert.True(at > 0);
        var copy = (byte[])bytes.Clone();
        System.Text.Encoding.ASCII.GetBytes(to).CopyTo(copy, at);
        return copy;
    }

    [Fact]
    public void NdArray_RejectsShapeThatDoesNotMatchData()
    {
        Assert.Throws<InvalidInputException>(() => new NdArray([2, 3], new float[5]));
        Assert.Throws<InvalidInputException>(() => new NdArray([-1, 3], new float[3]));
    }

    [Fact]
    public void NdArray_NonNegativeCheck_NamesTheFirstBadEntry()
    {
        var a = new NdArray([2, 3], [0, 1, 2, 3, float.NaN, -1]);
        Assert.Contains("NaN at [1, 1]", Assert.Throws<InvalidInputException>(() => a.RequireNonNegativeFinite("V")).Message);
        a.Data[4] = float.PositiveInfinity;
        Assert.Contains("infinite value at [1, 1]", Assert.Throws<InvalidInputException>(() => a.RequireNonNegativeFinite("V")).Message);
        a.Data[4] = 0;
        Assert.Contains("negative value (-1) at [1, 2]", Assert.Throws<InvalidInputException>(() => a.RequireNonNegativeFinite("V")).Message);
    }
}
