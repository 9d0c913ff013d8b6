using Pipeline.Shared.Arrays;
using Pipeline.Training.Anomaly;

namespace Pipeline.Training.Tests;

/// <summary>
/// Choosing the frame aggregation on normal clips alone: the synthetic faults mix in as power sums, and the rating
/// prefers a local aggregation when a brief event is what moves the errors and the mean when a steady one is.
/// </summary>
public class AggregationChoiceTests
{
    [Fact]
    public void Faults_AreMixedInAsPowerSumsAtTheBandsMeanLevel()
    {
        // 6 frames × 3 bands, all at 10 dB: a burst in frames 2-4 and a tone in band 1 each add 10·log10(2) ≈ 3.0103 dB
        var flat = new NdArray([6, 3], Enumerable.Repeat(10f, 18).ToArray());
        var burst = AggregationChoice.WithBurst(flat, 2);
        var tone = AggregationChoice.WithTone(flat, 1);
        var plus3 = (float)(10 + 10 * Math.Log10(2));
        for (var t = 0; t < 6; t++)
            for (var b = 0; b < 3; b++)
            {
                Assert.Equal(t is >= 2 and < 2 + AggregationChoice.BurstFrames ? plus3 : 10f, burst.Data[t * 3 + b], 1e-5f);
                Assert.Equal(b == 1 ? plus3 : 10f, tone.Data[t * 3 + b], 1e-5f);
            }
        Assert.Equal(10f, flat.Data[7]); // the input is untouched
        // a burst asked for past the end stays inside the clip
        Assert.Equal(plus3, AggregationChoice.WithBurst(flat, 10).Data[5 * 3], 1e-5f);
        // a band far quieter than the mean level is raised to about that level
        var quiet = new NdArray([2, 1], [-50f, 30f]); // mean level −10 dB
        Assert.Equal(-10 + 10 * Math.Log10(1 + 1e-4), AggregationChoice.WithTone(quiet, 0).Data[0], 1e-4);
    }

    static List<float[]> Clips(int seed, Func<int, float[], float[]> change)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, 12).Select(i =>
        {
            // squared errors have a long upper tail: exponential noise, so the loudest frame of a normal clip varies the most
            var errors = Enumerable.Range(0, 200).Select(_ => (float)(1 - 0.5 * Math.Log(1 - random.NextDouble()))).ToArray();
            return change(i, errors);
        }).ToList();
    }

    [Fact]
    public void ABriefEvent_ChoosesALocalAggregation_AndASteadyOne_TheMean()
    {
        var normal = Clips(1, (_, e) => e);
        // faults that only move a few frames (and the tone nothing): the mean washes them out
        var spiked = Clips(2, (i, e) => { for (var t = 50; t < 53; t++) e[t] = 10; return e; });
        var same = Clips(3, (_, e) => e);
        var (local, ratings) = AggregationChoice.Choose(normal, spiked, same, trim: 0);
        Assert.Contains(local, new[] { "top-10%", "top-5%", "top-1%", "max" });
        Assert.True(ratings.Single(r => r.Aggregation == "top-1%").Burst > 1.5 * ratings.Single(r => r.Aggregation == "mean").Burst);
        // faults that raise every frame a little: the mean, steadiest over normal clips, separates best
        var raised = Clips(4, (_, e) => e.Select(v => v * 1.1f).ToArray());
        var (steady, _) = AggregationChoice.Choose(normal, Clips(5, (_, e) => e), raised, trim: 0);
        Assert.Equal("mean", steady);
        // faults that lower the errors: no candidate separates, and none is chosen
        var lowered = Clips(6, (_, e) => e.Select(v => v * 0.9f).ToArray());
        var (none, all) = AggregationChoice.Choose(normal, lowered, lowered, trim: 0);
        Assert.Null(none);
        Assert.All(all, r => Assert.True(r.Separation < 0));
        Assert.Throws<ArgumentException>(() => AggregationChoice.Choose(normal.Take(1).ToList(), spiked.Take(1).ToList(), same.Take(1).ToList(), 0));
        Assert.Throws<ArgumentException>(() => AggregationChoice.Choose(normal, spiked.Take(3).ToList(), same, 0));
    }
}
