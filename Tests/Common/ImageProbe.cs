using System.Text.Json;

namespace Pipeline.Tests;

/// <summary>
/// A picture as an independent reader sees it: Debian's python3-pil (which ./run test installs) opens it, checks
/// its chunks' CRCs while decoding every frame, and reports its size, frame count, distinct colours and the first
/// frame's RGB pixels.
/// </summary>
public sealed record ProbedImage(string Format, int Width, int Height, int Frames, int Colors, byte[] Rgb)
{
    public (byte R, byte G, byte B) this[int x, int y] => (Rgb[(y * Width + x) * 3], Rgb[(y * Width + x) * 3 + 1], Rgb[(y * Width + x) * 3 + 2]);
}

public static class ImageProbe
{
    const string Script = """
        import base64, json, sys
        from PIL import Image
        found = []
        for path in sys.argv[1:]:
            image = Image.open(path)
            frames = getattr(image, "n_frames", 1)
            for i in range(frames):
                image.seek(i)
                image.load()
            image.seek(0)
            rgb = image.convert("RGB")
            colors = rgb.getcolors(1 << 24)
            found.append({"format": image.format, "width": image.width, "height": image.height, "frames": frames,
                          "colors": len(colors), "rgb": base64.b64encode(rgb.tobytes()).decode()})
        print(json.dumps(found))
        """;

    /// <summary>Reads the pictures at <paramref name="paths"/>; fails the test when one does not decode.</summary>
    public static IReadOnlyList<ProbedImage> Read(params string[] paths)
    {
        var output = TestData.Run(TestData.SystemPython, ["-c", Script, .. paths]);
        using var json = JsonDocument.Parse(output);
        return json.RootElement.EnumerateArray().Select(e => new ProbedImage(e.GetProperty("format").GetString()!, e.GetProperty("width").GetInt32(),
            e.GetProperty("height").GetInt32(), e.GetProperty("frames").GetInt32(), e.GetProperty("colors").GetInt32(),
            Convert.FromBase64String(e.GetProperty("rgb").GetString()!))).ToList();
    }

    /// <summary>Reads picture bytes (written to a temporary file first).</summary>
    public static ProbedImage Read(byte[] picture)
    {
        var path = Path.Combine(TestData.TempDirectory(), "picture.png");
        File.WriteAllBytes(path, picture);
        return Read(path)[0];
    }
}
