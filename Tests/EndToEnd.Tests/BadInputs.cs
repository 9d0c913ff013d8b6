using System.Buffers.Binary;
using System.Text;
using Pipeline.Shared.Arrays;

namespace Pipeline.EndToEnd.Tests;

/// <summary>
/// Generates inputs that every command must refuse with one clear line: broken and hostile WAV files, .npy files
/// and model folders, each named by what is wrong with it. Deterministic (a fixed seed for the random bytes).
/// </summary>
static class BadInputs
{
    /// <summary>A RIFF/WAVE file from its parts; every field can be made wrong.</summary>
    static byte[] Wav(short format = 1, short channels = 1, int rate = 16000, short bits = 16, byte[]? data = null, int? dataSize = null,
        string riff = "RIFF", string wave = "WAVE", string fmt = "fmt ", int fmtSize = 16, int? blockAlign = null)
    {
        data ??= new byte[3200];
        using var s = new MemoryStream();
        var w = new BinaryWriter(s);
        w.Write(Encoding.ASCII.GetBytes(riff));
        w.Write(4 + 8 + fmtSize + 8 + data.Length);
        w.Write(Encoding.ASCII.GetBytes(wave));
        w.Write(Encoding.ASCII.GetBytes(fmt));
        w.Write(fmtSize);
        w.Write(format);
        w.Write(channels);
        w.Write(rate);
        w.Write(rate * channels * Math.Max(bits, (short)8) / 8);
        w.Write((short)(blockAlign ?? channels * Math.Max(bits, (short)8) / 8));
        w.Write(bits);
        for (var i = 16; i < fmtSize; i++) w.Write((byte)0);
        w.Write(Encoding.ASCII.GetBytes("data"));
        w.Write(dataSize ?? data.Length);
        w.Write(data);
        return s.ToArray();
    }

    static byte[] Floats(params float[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (var i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        return bytes;
    }

    static float[] Tone(int n, float amplitude) => Enumerable.Range(0, n).Select(i => amplitude * MathF.Sin(i * 0.2f)).ToArray();

    /// <summary>WAV-named files that are not usable audio.</summary>
    public static List<(string Name, string Path)> Wavs(string dir)
    {
        Directory.CreateDirectory(dir);
        var cases = new List<(string, byte[])>
        {
            ("empty", []),
            ("text", Encoding.UTF8.GetBytes("this is not audio\n")),
            ("json", Encoding.UTF8.GetBytes("{\"samples\": [0, 1, 2]}")),
            ("riff-only", Encoding.ASCII.GetBytes("RIFF")),
            ("not-riff", Wav(riff: "RIFX")),
            ("not-wave", Wav(wave: "AVI ")),
            ("no-fmt", Wav(fmt: "junk")),
            ("zero-channels", Wav(channels: 0)),
            ("zero-rate", Wav(rate: 0)),
            ("negative-rate", Wav(rate: -16000)),
            ("zero-bits", Wav(bits: 0)),
            ("unknown-format", Wav(format: 0x1234)),
            ("no-samples", Wav(data: [])),
            ("negative-channels", Wav(channels: -1)),
            ("nan-samples", Wav(format: 3, bits: 32, data: Floats([.. Tone(800, 0.5f), float.NaN, .. Tone(799, 0.5f)]))),
            ("inf-samples", Wav(format: 3, bits: 32, data: Floats([.. Tone(800, 0.5f), float.PositiveInfinity, .. Tone(799, 0.5f)]))),
            ("peak-1e18", Wav(format: 3, bits: 32, data: Floats(Tone(16000, 1e18f)))),
            ("peak-3e38", Wav(format: 3, bits: 32, data: Floats(Tone(16000, 3e38f)))),
        };
        // every cut through the 44-byte header of a valid file
        var valid = Wav();
        for (var cut = 1; cut < 44; cut++) cases.Add(($"header-cut-{cut}", valid[..cut]));
        // random bytes, with and without a RIFF start
        var random = new Random(20);
        foreach (var length in new[] { 1, 7, 44, 100, 4096 })
        {
            var bytes = new byte[length];
            random.NextBytes(bytes);
            cases.Add(($"random-{length}", bytes));
            var riff = Encoding.ASCII.GetBytes("RIFF").Concat(bytes).ToArray();
            cases.Add(($"riff-random-{length}", riff));
        }
        var result = WriteAll(dir, cases, ".wav");
        return result;
    }

    /// <summary>Each case as a file named after it, and a folder with the extension, which no command may take for a file.</summary>
    static List<(string Name, string Path)> WriteAll(string dir, List<(string Name, byte[] Bytes)> cases, string extension)
    {
        var result = cases.Select(c =>
        {
            var path = Path.Combine(dir, c.Name + extension);
            File.WriteAllBytes(path, c.Bytes);
            return (c.Name, path);
        }).ToList();
        var folder = Path.Combine(dir, "a-folder" + extension);
        Directory.CreateDirectory(folder);
        result.Add(("folder", folder));
        return result;
    }

    static byte[] Npy(string header, byte[] data, string magic = "\u0093NUMPY", byte major = 1)
    {
        var text = header;
        var total = magic.Length + 2 + 2 + text.Length + 1;
        text = text.PadRight(text.Length + (64 - total % 64) % 64) + "\n";
        using var s = new MemoryStream();
        s.Write(Encoding.Latin1.GetBytes(magic));
        s.WriteByte(major);
        s.WriteByte(0);
        s.Write(BitConverter.GetBytes((ushort)text.Length));
        s.Write(Encoding.Latin1.GetBytes(text));
        s.Write(data);
        return s.ToArray();
    }

    /// <summary>.npy files that no command taking a (features, frames) matrix of <paramref name="features"/> rows may accept.</summary>
    public static List<(string Name, string Path)> Npys(string dir, int features)
    {
        Directory.CreateDirectory(dir);
        var good = Floats([.. Enumerable.Range(0, features * 10).Select(i => 0.1f + (i % 7) * 0.2f)]);
        string Header(string descr = "<f4", string order = "False", string shape = "") =>
            $"{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {(shape == "" ? $"({features}, 10)" : shape)}, }}";
        var cases = new List<(string, byte[])>
        {
            ("empty", []),
            ("text", Encoding.UTF8.GetBytes("1 2 3\n4 5 6\n")),
            ("bad-magic", Npy(Header(), good, magic: "\u0093NUMPX")),
            ("version-9", Npy(Header(), good, major: 9)),
            ("header-not-dict", Npy("[1, 2, 3]", good)),
            ("header-missing-shape", Npy("{'descr': '<f4', 'fortran_order': False, }", good)),
            ("header-missing-descr", Npy($"{{'fortran_order': False, 'shape': ({features}, 10), }}", good)),
            ("strings", Npy(Header(descr: "|S4"), good)),
            ("complex", Npy(Header(descr: "<c8"), [.. good, .. good])),
            ("object", Npy(Header(descr: "|O"), good)),
            ("big-endian-garbage-shape", Npy(Header(shape: "(-1, 10)"), good)),
            ("shape-overflow", Npy(Header(shape: "(2147483647, 2147483647)"), good[..16])),
            ("truncated-data", Npy(Header(), good[..(good.Length / 2)])),
            ("no-data", Npy(Header(), [])),
            ("one-dimensional", Npy(Header(shape: $"({features * 10},)"), good)),
            ("three-dimensional", Npy(Header(shape: $"({features}, 5, 2)"), good)),
            ("wrong-features", Npy(Header(shape: $"({features * 2}, 5)"), good)),
            ("zero-frames", Npy(Header(shape: $"({features}, 0)"), [])),
            ("scalar", Npy(Header(shape: "()"), good[..4])),
        };
        foreach (var (name, value) in new[] { ("nan", float.NaN), ("inf", float.PositiveInfinity), ("negative", -1f), ("minus-inf", float.NegativeInfinity) })
            foreach (var at in new[] { 0, features * 10 - 1, features * 5 })
            {
                var bytes = (byte[])good.Clone();
                BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(at * 4), value);
                cases.Add(($"{name}-at-{at}", Npy(Header(), bytes)));
            }
        // every cut through the magic, version, header length and header of a valid file, and into its data
        var valid = Npy(Header(), good);
        var dataStart = valid.Length - good.Length;
        for (var cut = 1; cut < dataStart + 4; cut++) cases.Add(($"cut-{cut}", valid[..cut]));
        var result = WriteAll(dir, cases, ".npy");
        result.Add(("missing", Path.Combine(dir, "missing.npy")));
        return result;
    }

    /// <summary>Copies of the valid model folder <paramref name="model"/>, each broken in one way.</summary>
    public static List<(string Name, string Path)> ModelFolders(string dir, string model)
    {
        Directory.CreateDirectory(dir);
        var result = new List<(string, string)>();
        string Copy(string name)
        {
            var target = Path.Combine(dir, name);
            Directory.CreateDirectory(target);
            foreach (var file in Directory.GetFiles(model)) File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
            result.Add((name, target));
            return target;
        }
        string Manifest(string folder) => Path.Combine(folder, "manifest.json");
        void Edit(string name, Func<string, string> change)
        {
            var folder = Copy(name);
            File.WriteAllText(Manifest(folder), change(File.ReadAllText(Manifest(folder))));
        }
        result.Add(("missing", Path.Combine(dir, "missing")));
        Directory.CreateDirectory(Path.Combine(dir, "empty"));
        result.Add(("empty", Path.Combine(dir, "empty")));
        File.WriteAllText(Path.Combine(dir, "a-file"), "not a folder");
        result.Add(("a-file", Path.Combine(dir, "a-file")));
        File.Delete(Manifest(Copy("no-manifest")));
        File.Delete(Path.Combine(Copy("no-graph"), "model.onnx"));
        File.WriteAllText(Path.Combine(Copy("graph-changed"), "model.onnx"), "not onnx");
        File.AppendAllText(Path.Combine(Copy("graph-appended"), "model.onnx"), "x");
        var emptyGraph = Copy("graph-empty");
        File.WriteAllBytes(Path.Combine(emptyGraph, "model.onnx"), []);
        var folderGraph = Copy("graph-is-folder");
        File.Delete(Path.Combine(folderGraph, "model.onnx"));
        Directory.CreateDirectory(Path.Combine(folderGraph, "model.onnx"));
        var folderManifest = Copy("manifest-is-folder");
        File.Delete(Manifest(folderManifest));
        Directory.CreateDirectory(Manifest(folderManifest));
        Edit("manifest-empty", _ => "");
        Edit("manifest-text", _ => "hello");
        Edit("manifest-null", _ => "null");
        Edit("manifest-array", _ => "[]");
        Edit("manifest-truncated", m => m[..(m.Length / 2)]);
        Edit("wrong-format", m => m.Replace("\"format\": \"", "\"format\": \"x"));
        Edit("future-version", m => System.Text.RegularExpressions.Regex.Replace(m, "\"formatVersion\": \\d+", "\"formatVersion\": 99"));
        Edit("no-graphs", m => System.Text.RegularExpressions.Regex.Replace(m, "\"graphs\": \\[", "\"graphs\": [], \"unused\": ["));
        Edit("hash-changed", m => System.Text.RegularExpressions.Regex.Replace(m, "\"model.onnx\": \"[0-9a-f]{8}", "\"model.onnx\": \"00000000"));
        Edit("no-hashes", m => System.Text.RegularExpressions.Regex.Replace(m, "\"files\": \\{[^}]*\\}", "\"files\": {}"));
        Edit("graph-traversal", m => m.Replace("\"file\": \"model.onnx\"", "\"file\": \"../model.onnx\""));
        Edit("rank-zero", m => System.Text.RegularExpressions.Regex.Replace(m, "\"rank\": \\d+", "\"rank\": 0"));
        Edit("rank-contradicts-graph", m => System.Text.RegularExpressions.Regex.Replace(m, "\"rank\": \\d+", "\"rank\": 7"));
        Edit("features-contradict-graph", m => System.Text.RegularExpressions.Regex.Replace(m, "\"features\": \\d+", "\"features\": 9"));
        Edit("kind-contradicts-graph", m => m.Replace("\"kind\": \"nmf\"", "\"kind\": \"gmm\""));
        Edit("unknown-kind", m => m.Replace("\"kind\": \"nmf\"", "\"kind\": \"teapot\""));
        Edit("negative-iterations", m => System.Text.RegularExpressions.Regex.Replace(m, "\"defaultIterations\": \\d+", "\"defaultIterations\": -5"));
        Edit("epsilon-zero", m => System.Text.RegularExpressions.Regex.Replace(m, "\"epsilon\": [-0-9.eE+]+", "\"epsilon\": 0"));
        Edit("beta-huge", m => System.Text.RegularExpressions.Regex.Replace(m, "\"beta\": [-0-9.eE+]+", "\"beta\": 1e400"));
        return result;
    }
}
