using Pipeline.Shared.Errors;

namespace Pipeline.Training.Tensors;

/// <summary>
/// The job's seeded random source (xoshiro256**, seeded through SplitMix64). Initial weights, dropout masks
/// and mini-batch shuffles all draw from one generator, and its <see cref="State"/> goes into checkpoints, so
/// a resumed job draws exactly what the uninterrupted job would have drawn.
/// </summary>
public sealed class Generator
{
    ulong s0, s1, s2, s3;

    /// <summary>
    /// The process-wide generator that layers draw from when none is given (seed 0 at start), like
    /// PyTorch's default generator. Jobs pass their own generator so that their results depend on their seed only.
    /// </summary>
    public static Generator Default { get; private set; } = new(0);

    /// <summary>Reseeds <see cref="Default"/>, as <c>torch.manual_seed</c>.</summary>
    public static void ManualSeed(long seed) => Default = new Generator(seed);

    /// <summary>A generator whose stream is fixed by <paramref name="seed"/>.</summary>
    public Generator(long seed)
    {
        var x = (ulong)seed;
        s0 = SplitMix(ref x); s1 = SplitMix(ref x); s2 = SplitMix(ref x); s3 = SplitMix(ref x);
    }

    /// <summary>The full internal state, for checkpoints.</summary>
    public ulong[] State
    {
        get => [s0, s1, s2, s3];
        set
        {
            if (value.Length != 4 || (value[0] | value[1] | value[2] | value[3]) == 0)
                throw new InvalidInputException("a generator state is four 64-bit words, not all zero");
            (s0, s1, s2, s3) = (value[0], value[1], value[2], value[3]);
        }
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

public partial class Tensor
{
    /// <summary>Uniform values in [<paramref name="low"/>, <paramref name="high"/>).</summary>
    public static Tensor Uniform(Generator generator, float low, float high, params int[] shape)
    {
        var t = Zeros(shape);
        generator.FillUniform(t.Span, low, high);
        return t;
    }

    /// <summary>Uniform values in [0, 1), like <c>torch.rand</c>.</summary>
    public static Tensor Rand(Generator generator, params int[] shape) => Uniform(generator, 0f, 1f, shape);

    /// <summary>Standard normal values, like <c>torch.randn</c>.</summary>
    public static Tensor Randn(Generator generator, params int[] shape)
    {
        var t = Zeros(shape);
        generator.FillNormal(t.Span, 0f, 1f);
        return t;
    }
}
