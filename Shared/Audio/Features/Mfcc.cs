using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;

namespace Pipeline.Shared.Audio;

/// <summary>
/// Orthonormal DCT-II along the feature axis, as <c>scipy.fft.dct(type=2, norm="ortho")</c> and librosa's MFCC,
/// by NWaves' <c>Dct2.DirectNorm</c>.
/// </summary>
public static class Mfcc
{
    /// <summary>
    /// The first <paramref name="count"/> DCT-II coefficients of each column of <paramref name="logMel"/>
    /// (n_mels, frames) → (count, frames): c_k = s_k Σ_m x_m cos(π k (2m + 1) / 2M), s_0 = √(1/M), s_k = √(2/M).
    /// </summary>
    public static NdArray FromLogMel(NdArray logMel, int count)
    {
        var m = logMel.Rows;
        if (count < 1 || count > m) throw new InvalidOptionException($"the MFCC count must lie in [1, n_mels = {m}], got {count}");
        var frames = logMel.Columns;
        var dct = new NWaves.Transforms.Dct2(m);
        var (column, coefficients) = (new float[m], new float[m]);
        var result = new float[count * frames];
        for (var t = 0; t < frames; t++)
        {
            for (var i = 0; i < m; i++) column[i] = logMel.Data[i * frames + t];
            dct.DirectNorm(column, coefficients);
            for (var k = 0; k < count; k++) result[k * frames + t] = coefficients[k];
        }
        return new NdArray([count, frames], result);
    }
}
