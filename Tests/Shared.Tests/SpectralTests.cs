using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Errors;
using Pipeline.Tests;

namespace Pipeline.Shared.Tests;

public class SpectralTests
{
    static NdArray Fixture(string name) => NpyFile.Read(Path.Combine(AppContext.BaseDirectory, "Fixtures", name));

    static float[] Tone(int length, double frequency, int sampleRate, double amplitude = 1.0) =>
        Enumerable.Range(0, length).Select(i => (float)(amplitude * Math.Sin(2 * Math.PI * frequency * i / sampleRate))).ToArray();

    /// <summary>torch.stft in double precision (Fixtures/make_torch_stft.py); float32 FFTs of length ≤ 512 agree to ~1e-6 of the peak.</summary>
    [Theory]
    [InlineData("center", 512, 128, 400, true)]
    [InlineData("nocenter", 256, 100, 256, false)]
    public void Stft_MatchesTorchStft(string name, int nFft, int hop, int win, bool center)
    {
        var x = Fixture("torch_stft_signal.npy").Data;
        var re = Fixture($"torch_stft_{name}_re.npy");
        var im = Fixture($"torch_stft_{name}_im.npy");
        var s = new Stft(nFft, hop, win, WindowKind.Hann, center, PadMode.Reflect).Forward(x);
        Assert.Equal(re.Shape, new[] { s.Bins, s.Frames });
        Assert.True(TestData.MaxRelativeError(s.Real, re.Data) < 1e-5);
        Assert.True(TestData.MaxRelativeError(s.Imaginary, im.Data) < 1e-5);
    }

    [Fact]
    public void Stft_OfABinCentredTone_PeaksAtItsBinWithAmplitudeTimesHalfTheWindowSum()
    {
        const int sr = 16000, n = 512;
        var k = 40; // 1250 Hz
        var x = Tone(sr, k * (double)sr / n, sr, amplitude: 0.5);
        var stft = new Stft(n, 160);
        var magnitude = stft.Magnitude(x);
        Assert.Equal(1 + sr / 160, magnitude.Columns);
        var t = magnitude.Columns / 2;
        // periodic Hann sums to n/2, so a sine of amplitude A gives |X[k]| = A·n/4
        Assert.Equal(0.5 * n / 4, magnitude[k, t], 1e-3 * 0.5 * n / 4);
        for (var b = 0; b < magnitude.Rows; b++)
            if (Math.Abs(b - k) > 1) Assert.True(magnitude[b, t] < 1e-3 * magnitude[k, t], $"bin {b} leaks");
        // in decibels relative to that peak: 0 dB, and the floor is 80 dB down
        var db = Decibels.AmplitudeToDb(magnitude, reference: 0.5 * n / 4);
        Assert.Equal(0, db[k, t], 0.01);
        Assert.Equal(db.Data.Max() - 80, db.Data.Min(), 1e-3);
    }

    // n_fft 400: 201 bins, not whole vectors of 16; 37 frames, not whole blocks of 16
    [Theory]
    [InlineData(1f)]
    [InlineData(2f)]
    [InlineData(0.5f)]
    public void Magnitude_IsTheComplexSpectrogramsModulusToThePower(float power)
    {
        var random = new Random(3);
        var x = Enumerable.Range(0, 36 * 160).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        var stft = new Stft(400, 160);
        var complex = stft.Forward(x);
        var magnitude = stft.Magnitude(x, power);
        Assert.Equal(new[] { 201, 37 }, new[] { magnitude.Rows, magnitude.Columns });
        for (var i = 0; i < complex.Real.Length; i++)
        {
            var expected = Math.Pow((double)complex.Real[i] * complex.Real[i] + (double)complex.Imaginary[i] * complex.Imaginary[i], power / 2);
            Assert.Equal(expected, magnitude.Data[i], 1e-5 * (1 + expected));
        }
    }

    [Fact]
    public void Stft_SatisfiesParseval()
    {
        var random = new Random(1);
        var x = Enumerable.Range(0, 2048).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        const int n = 256;
        var stft = new Stft(n, 128, center: false);
        var s = stft.Forward(x);
        var w = Window.Create(WindowKind.Hann, n);
        for (var t = 0; t < s.Frames; t += 5)
        {
            double time = 0, frequency = 0;
            for (var i = 0; i < n; i++) time += Math.Pow(x[t * 128 + i] * w[i], 2);
            for (var b = 0; b < s.Bins; b++)
            {
                var p = Math.Pow(s.Real[b * s.Frames + t], 2) + Math.Pow(s.Imaginary[b * s.Frames + t], 2);
                frequency += b == 0 || b == n / 2 ? p : 2 * p;
            }
            Assert.Equal(time, frequency / n, 1e-5 * time);
        }
    }

    [Theory]
    [InlineData(512, 128, 512, PadMode.Constant)]
    [InlineData(512, 160, 400, PadMode.Reflect)]
    [InlineData(1024, 256, 1024, PadMode.Constant)]
    public void Istft_OfStft_ReconstructsTheSignal(int nFft, int hop, int win, PadMode pad)
    {
        var random = new Random(2);
        var x = Enumerable.Range(0, 5000).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var stft = new Stft(nFft, hop, win, padMode: pad);
        var y = stft.Inverse(stft.Forward(x), x.Length);
        Assert.Equal(x.Length, y.Length);
        for (var i = 0; i < x.Length; i++) Assert.True(Math.Abs(x[i] - y[i]) < 1e-5, $"sample {i}: {y[i]} vs {x[i]}");
    }

    [Fact]
    public void Stft_RejectsBadOptionsAndSignals()
    {
        var e = Assert.Throws<InvalidOptionException>(() => new Stft(256, 0, 512));
        Assert.Contains("hop_length", e.Message);
        Assert.Contains("win_length", e.Message);
        var stft = new Stft(256, 64);
        Assert.Throws<InvalidAudioException>(() => stft.Forward([]));
        var nan = new float[1000];
        nan[17] = float.NaN;
        Assert.Contains("sample 17", Assert.Throws<InvalidAudioException>(() => stft.Forward(nan, "clip.wav")).Message);
        Assert.Throws<InvalidAudioException>(() => new Stft(256, 64, center: false).Forward(new float[100]));
        Assert.Equal(0, new Stft(256, 64, center: false).FrameCount(100));
        Assert.Equal(1 + 1000 / 64, stft.FrameCount(1000));
    }

    [Fact]
    public void MelScale_FollowsItsDefinitions()
    {
        Assert.Equal(15.0, MelFilterBank.HzToMel(1000, MelScale.Slaney), 1e-12);
        Assert.Equal(15.0 + 27.0, MelFilterBank.HzToMel(6400, MelScale.Slaney), 1e-9); // log step is ln(6.4)/27
        Assert.Equal(3.0, MelFilterBank.HzToMel(200, MelScale.Slaney), 1e-12);
        Assert.Equal(2595 * Math.Log10(2), MelFilterBank.HzToMel(700, MelScale.Htk), 1e-9);
        foreach (var scale in new[] { MelScale.Slaney, MelScale.Htk })
            foreach (var hz in new[] { 0.0, 440, 999.9, 1000, 5000, 11025 })
                Assert.Equal(hz, MelFilterBank.MelToHz(MelFilterBank.HzToMel(hz, scale), scale), 1e-6);
    }

    /// <summary>The filter bank against a numpy transcription of librosa.filters.mel's documented construction.</summary>
    [Theory]
    [InlineData(16000, 512, 64, 0.0, null, MelScale.Slaney, true)]
    [InlineData(22050, 2048, 128, 0.0, null, MelScale.Slaney, true)]
    [InlineData(16000, 1024, 40, 50.0, 7000.0, MelScale.Htk, false)]
    public void MelFilterBank_MatchesLibrosasConstruction(int sr, int nFft, int nMels, double fmin, double? fmax, MelScale scale, bool norm)
    {
        var bank = new MelFilterBank(sr, nFft, nMels, fmin, fmax, scale, norm);
        var reference = TestData.Python($$"""
            import numpy as np
            sr, n_fft, n_mels, fmin, fmax, htk, norm = {{sr}}, {{nFft}}, {{nMels}}, {{fmin}}, {{fmax ?? sr / 2.0}}, {{(scale == MelScale.Htk ? "True" : "False")}}, {{(norm ? "True" : "False")}}
            def hz_to_mel(f):
                f = np.asanyarray(f, dtype=float)
                if htk: return 2595.0 * np.log10(1.0 + f / 700.0)
                mels = f / (200.0 / 3)
                logstep = np.log(6.4) / 27.0
                return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-12) / 1000.0) / logstep, mels)
            def mel_to_hz(m):
                m = np.asanyarray(m, dtype=float)
                if htk: return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
                logstep = np.log(6.4) / 27.0
                return np.where(m >= 15.0, 1000.0 * np.exp(logstep * (m - 15.0)), (200.0 / 3) * m)
            fftfreqs = np.linspace(0, sr / 2, 1 + n_fft // 2)
            mel_f = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
            fdiff = np.diff(mel_f)
            ramps = mel_f[:, None] - fftfreqs[None, :]
            w = np.zeros((n_mels, 1 + n_fft // 2))
            for i in range(n_mels):
                w[i] = np.maximum(0, np.minimum(-ramps[i] / fdiff[i], ramps[i + 2] / fdiff[i + 1]))
            if norm:
                w *= (2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels]))[:, None]
            print(" ".join(repr(float(v)) for v in w.astype(np.float32).ravel()))
            """);
        var expected = reference.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(v => float.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Assert.True(TestData.MaxRelativeError(bank.Weights.Data, expected) < 1e-6);
        Assert.Throws<InvalidOptionException>(() => new MelFilterBank(16000, 512, 64, fmax: 9000));
    }

    [Fact]
    public void Mfcc_IsAnOrthonormalDct()
    {
        var random = new Random(3);
        const int m = 16, frames = 5;
        var logMel = new NdArray([m, frames], Enumerable.Range(0, m * frames).Select(_ => (float)random.NextDouble()).ToArray());
        var c = Mfcc.FromLogMel(logMel, m);
        for (var t = 0; t < frames; t++)
        {
            double energyIn = 0, energyOut = 0;
            for (var i = 0; i < m; i++) { energyIn += logMel[i, t] * logMel[i, t]; energyOut += c[i, t] * c[i, t]; }
            Assert.Equal(energyIn, energyOut, 1e-5 * energyIn); // orthonormal: energy is kept
        }
        var constant = new NdArray([m, 1], Enumerable.Repeat(2f, m).ToArray());
        var dc = Mfcc.FromLogMel(constant, 4);
        Assert.Equal(2 * Math.Sqrt(m), dc[0, 0], 1e-5);
        for (var k = 1; k < 4; k++) Assert.Equal(0, dc[k, 0], 1e-5);
    }

    [Fact]
    public void PowerToDb_FollowsLibrosasDefinition()
    {
        var p = new NdArray([1, 4], [1f, 100f, 1e-12f, 0f]);
        var db = Decibels.PowerToDb(p, reference: 10, topDb: null);
        Assert.Equal([-10f, 10f, -110f, -110f], db.Data);
        Assert.Equal([0f, 20f, -60f, -60f], Decibels.PowerToDb(p, topDb: 80).Data);
    }

    [Fact]
    public void ContextFrames_StackLikeTheDcaseBaseline()
    {
        // the DCASE baseline: padded = x[:n][::-1] ++ x ++ x[-n:][::-1]; row t = padded[t : t + 2n]
        var x = new NdArray([3, 1], [1f, 2f, 3f]);
        var s = ContextFrames.Stack(x, before: 2, after: 2);
        Assert.Equal([3, 4], s.Shape);
        Assert.Equal([2f, 1f, 1f, 2f, 1f, 1f, 2f, 3f, 1f, 2f, 3f, 3f], s.Data);
        Assert.Throws<InvalidInputException>(() => ContextFrames.Stack(x, 4, 4));
        var wide = ContextFrames.Stack(new NdArray([50, 64], new float[50 * 64]));
        Assert.Equal([50, 1280], wide.Shape);
    }
}
