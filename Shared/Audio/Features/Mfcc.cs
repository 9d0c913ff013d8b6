using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;

namespace Pipeline.Shared.Audio;

/// <summary>Orthonormal DCT-II along the feature axis, as <c>scipy.fft.dct(type=2, norm="ortho")</c> and librosa's MFCC.</summary>
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
        var basis = new float[count * m];
        for (var k = 0; k < count; k++)
            for (var i = 0; i < m; i++)
                basis[k * m + i] = (float)(Math.Sqrt((k == 0 ? 1.0 : 2.0) / m) * Math.Cos(Math.PI * k * (2 * i + 1) / (2.0 * m)));
        var result = new float[count * frames];
        for (var k = 0; k < count; k++)
        {
            var row = result.AsSpan(k * frames, frames);
            for (var i = 0; i < m; i++)
                System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(logMel.Data.AsSpan(i * frames, frames), basis[k * m + i], row, row);
        }
        return new NdArray([count, frames], result);
    }
}
