using Pipeline.Shared.Errors;

namespace Pipeline.Training.Synthesis;

/// <summary>
/// A seeded random stream (xoshiro256**, seeded through SplitMix64; Blackman and Vigna 2018) whose draws are fixed
/// by its seed on every platform and .NET version: the synthetic data sets and the mixtures' k-means++ starts draw from
/// it, so the same seed gives the same bytes. (<see cref="Random"/>'s seeded stream is fixed too, but by a
/// compatibility algorithm .NET keeps only for that purpose.)
/// </summary>
public sealed class SeededRandom
{
    ulong s0, s1, s2, s3;

    /// <summary>A generator whose stream is fixed by <paramref name="seed"/>.</summary>
    public SeededRandom(long seed)
    {
        var x = (ulong)seed;
        s0 = SplitMix(ref x); s1 = SplitMix(ref x); s2 = SplitMix(ref x); s3 = SplitMix(ref x);
    }

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        var result = RotateLeft(s1 * 5, 7) * 9;
        var t = s1 << 17;
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3;
        s2 ^= t;
        s3 = RotateLeft(s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1) with 24 random bits (every float32 step in the interval is reachable).</summary>
    public float NextSingle() => (NextUInt64() >> 40) * (1f / (1 << 24));

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [0, <paramref name="n"/>) without modulo bias.</summary>
    public int NextInt(int n)
    {
        if (n <= 0) throw new InvalidInputException($"NextInt needs a positive bound, got {n}");
        var limit = ulong.MaxValue - ulong.MaxValue % (ulong)n;
        ulong r;
        do r = NextUInt64(); while (r >= limit);
        return (int)(r % (ulong)n);
    }

    /// <summary>A uniformly random ordering of 0 … n−1 (Fisher–Yates).</summary>
    public int[] Permutation(int n)
    {
        var p = new int[n];
        for (var i = 0; i < n; i++) p[i] = i;
        for (var i = n - 1; i > 0; i--)
        {
            var j = NextInt(i + 1);
            (p[i], p[j]) = (p[j], p[i]);
        }
        return p;
    }

    /// <summary>Fills <paramref name="destination"/> with uniform values in [low, high).</summary>
    public void FillUniform(Span<float> destination, float low, float high)
    {
        var scale = high - low;
        for (var i = 0; i < destination.Length; i++) destination[i] = low + scale * NextSingle();
    }

    /// <summary>Fills <paramref name="destination"/> with normal values (Box–Muller, computed in double).</summary>
    public void FillNormal(Span<float> destination, float mean, float std)
    {
        for (var i = 0; i < destination.Length; i += 2)
        {
            var u1 = 1.0 - NextDouble(); // (0, 1]: the logarithm stays finite
            var u2 = NextDouble();
            var radius = Math.Sqrt(-2.0 * Math.Log(u1));
            destination[i] = (float)(mean + std * radius * Math.Cos(2 * Math.PI * u2));
            if (i + 1 < destination.Length) destination[i + 1] = (float)(mean + std * radius * Math.Sin(2 * Math.PI * u2));
        }
    }

    static ulong RotateLeft(ulong x, int k) => (x << k) | (x >> (64 - k));

    static ulong SplitMix(ref ulong x)
    {
        var z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
