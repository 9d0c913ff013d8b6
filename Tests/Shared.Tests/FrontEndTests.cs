using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Errors;
using Pipeline.Shared.Manifest;
using Pipeline.Tests;

namespace Pipeline.Shared.Tests;

public class FrontEndTests
{
    static AudioClip Tone(double frequency, double seconds = 1, int sr = 16000) =>
        new(Enumerable.Range(0, (int)(seconds * sr)).Select(i => (float)(0.5 * Math.Sin(2 * Math.PI * frequency * i / sr))).ToArray(), sr);

    [Fact]
    public void EmptyMelBands_AreNamedInAWarning_AndABankOfOnlyEmptyBandsIsRefused()
    {
        // 128 bands over 129 bins at 16 kHz: the narrow low bands fall between bins (13 of them, as librosa reports)
        var config = new LogMelOptions { NFft = 256, NMels = 128 };
        var extractor = new FeatureExtractor(config);
        var bank = new MelFilterBank(16000, 256, 128);
        var zeroRows = Enumerable.Range(0, 128).Where(m => bank.Weights.Data.AsSpan(m * 129, 129).IndexOfAnyExcept(0f) < 0).ToArray();
        Assert.Equal(13, zeroRows.Length);
        Assert.Equal(zeroRows, bank.EmptyBands);
        Assert.Equal([$"mel bands {IndexRanges.Format(zeroRows)} of 128 are empty (at n_fft 256 and 16000 Hz no frequency bin falls in them), so their features are constant; raise n_fft or lower n_mels"],
            extractor.Warnings);
        var features = extractor.Extract(Tone(440) with { Samples = Tone(440).Samples.Select((x, i) => x + 0.1f * MathF.Sin(i * i * 1e-4f)).ToArray() });
        foreach (var band in zeroRows) Assert.Single(Enumerable.Range(0, features.Rows).Select(t => features[t, band]).Distinct());
        Assert.Empty(new FeatureExtractor(FrontEndConfig.Preset("dcase-logmel")).Warnings);

        // more bands than bins: some are always empty; every band between two bins: all are
        var more = Assert.Throws<InvalidOptionException>(() => new FeatureExtractor(config with { NFft = 3, NMels = 64 }));
        Assert.Equal("front end: n_mels 64 is more than the 2 frequency bins of n_fft 3, so at least 62 bands would be empty; raise n_fft or lower n_mels", more.Message);
        var none = Assert.Throws<InvalidOptionException>(() => new FeatureExtractor(config with { NFft = 16, NMels = 4, FMin = 100, FMax = 900 }));
        Assert.Equal("front end: all 4 mel bands are empty (at n_fft 16 and 16000 Hz no frequency bin falls in them); raise n_fft or lower n_mels", none.Message);
    }

    [Theory]
    [InlineData("dcase-logmel", 1440, 10, "is too short: it gives 9 frames, and a mirrored context of 10 + 10 frames needs at least 10 real ones (1440 samples, 0.09 s at 16000 Hz)")] // 1 + 1440 / 160 = 10 real frames
    [InlineData("vae-mcep", 1024, 7, "is too short: 1023 samples are fewer than one frame of n_fft = 1024 (0.064 s at 16000 Hz)")] // one frame's samples, centred or not
    [InlineData("librosa-mel", 2048, 5, "is too short: 2047 samples are fewer than one frame of n_fft = 2048 (0.093 s at 22050 Hz)")]
    public void ShortestClip_IsAcceptedAndOneSampleLessIsRefused_WithTheLimitInTheMessage(string preset, int shortest, int rows, string refusal)
    {
        var config = FrontEndConfig.Preset(preset);
        Assert.Equal(shortest, config.MinimumSamples);
        var extractor = new FeatureExtractor(config);
        Assert.Equal(rows, extractor.Extract(new AudioClip(Tone(300, 1, config.SampleRate).Samples[..shortest], config.SampleRate)).Rows);
        var e = Assert.Throws<InvalidAudioException>(() => extractor.Extract(new AudioClip(Tone(300, 1, config.SampleRate).Samples[..(shortest - 1)], config.SampleRate), "short.wav"));
        Assert.Equal("short.wav: " + refusal, e.Message);
    }

    [Fact]
    public void Presets_GiveTheSeedsShapes()
    {
        var dcase = new FeatureExtractor(FrontEndConfig.Preset("dcase-logmel"));
        var features = dcase.Extract(Tone(1000));
        Assert.Equal([1 + 16000 / 160, 1280], features.Shape);
        Assert.Equal(1280, dcase.Config.Dimensions);
        var mcep = new FeatureExtractor(FrontEndConfig.Preset("vae-mcep")).Extract(Tone(300, 0.25));
        Assert.Equal([1 + 4000 / 160, 39], mcep.Shape);
        Assert.All(FrontEndConfig.PresetNames, name => FrontEndConfig.Preset(name).Validate());
        Assert.Throws<InvalidOptionException>(() => FrontEndConfig.Preset("nope"));
    }

    [Fact]
    public void LogMel_IsTheDcaseFormulaOverStftAndMelFilters()
    {
        var config = new LogMelOptions();
        var clip = Tone(1000);
        var features = new FeatureExtractor(config).Extract(clip);
        var power = new Stft(512, 160).Magnitude(clip.Samples, 2f);
        var mel = new MelFilterBank(16000, 512, 64).Apply(power);
        for (var t = 0; t < mel.Columns; t += 17)
            for (var m = 0; m < 64; m++)
                Assert.Equal(10 * Math.Log10(mel[m, t] + 2.220446049250313e-16), features[t, m], 1e-4);
        // the tone's band is the loudest one
        var mid = features.Rows / 2;
        var loudest = Enumerable.Range(0, 64).MaxBy(m => features[mid, m]);
        var band = Enumerable.Range(0, 64).MaxBy(m => new MelFilterBank(16000, 512, 64).Weights[m, 32]); // bin 32 = 1000 Hz
        Assert.Equal(band, loudest);
    }

    [Fact]
    public void Configs_AreEqualExactlyWhenTheirFeaturesAre()
    {
        var a = FrontEndConfig.DcaseLogMel;
        var b = a with { WinLength = 512, FMax = 8000 }; // defaults made explicit
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.Equal<FrontEndConfig>(a, FrontEndConfig.Preset("dcase-logmel"));
        Assert.NotEqual(a, a with { HopLength = 128 });
        Assert.NotEqual(a, a with { NMels = 40 });
        Assert.NotEqual(a, a with { Center = false });
        Assert.Equal(a with { Center = false }, a with { Center = false, PadMode = PadMode.Reflect }); // no padding to choose
        // the same mel settings computing another feature are another front end
        Assert.NotEqual<FrontEndConfig>(a, a.WithFeature(FeatureKind.Mel));
        Assert.Equal<FrontEndConfig>(new MelSpectrogramOptions { ContextBefore = 10, ContextAfter = 10 }, a.WithFeature(FeatureKind.Mel));
        var stft = FrontEndConfig.MagnitudeSpectrogram;
        Assert.Equal(FeatureKind.Magnitude, stft.Feature);
        Assert.NotEqual(stft, stft with { Power = 2 });
        Assert.Equal(FeatureKind.Power, (stft with { Power = 2 }).Feature);
    }

    [Fact]
    public void Config_TravelsThroughTheManifest()
    {
        var config = FrontEndConfig.Preset("vae-mcep") with { HopLength = 80 };
        Assert.Equal(config, FrontEndConfig.FromJson(config.ToJson()));
        Assert.Contains("\"window\":\"Blackman\"", config.ToJson());
        var manifest = new ModelManifest { Kind = "gmm", Name = "t", Producer = "tests", FrontEnd = config, Anomaly = new AnomalyScoring("mean", 0, 1, "given"),
            Graphs = [new GraphSpec("scorer", "model.onnx", [new TensorSpec("x", "float32", ["frames", "39"], "features")], [])] };
        var back = ModelFolder.FromJson(ModelFolder.ToJson(manifest), "manifest.json");
        Assert.Equal(config, back.FrontEnd);
    }

    /// <summary>
    /// Manifests hold one flat object with every setting, as written before the options were split per feature (these
    /// are files an earlier version wrote); each loads as its feature's record and is written back byte for byte.
    /// </summary>
    [Theory]
    [InlineData("""{"sampleRate":48000,"nFft":512,"hopLength":160,"winLength":null,"window":"Hann","center":true,"padMode":"Constant","feature":"LogMel","power":2,"nMels":64,"fMin":0,"fMax":null,"melScale":"Slaney","slaneyNorm":true,"logFloor":2.220446049250313E-16,"nMfcc":20,"cepstrumOrder":39,"alpha":0.42,"dropC0":true,"contextBefore":10,"contextAfter":10,"dimensions":1280,"minimumFrames":10,"minimumSamples":1440}""", typeof(LogMelOptions))]
    [InlineData("""{"sampleRate":48000,"nFft":2048,"hopLength":512,"winLength":null,"window":"Hann","center":true,"padMode":"Constant","feature":"Magnitude","power":2,"nMels":64,"fMin":0,"fMax":null,"melScale":"Slaney","slaneyNorm":true,"logFloor":2.220446049250313E-16,"nMfcc":20,"cepstrumOrder":39,"alpha":0.42,"dropC0":true,"contextBefore":0,"contextAfter":0,"dimensions":1025,"minimumFrames":1,"minimumSamples":1}""", typeof(SpectrogramOptions))]
    [InlineData("""{"sampleRate":48000,"nFft":1024,"hopLength":160,"winLength":null,"window":"Blackman","center":true,"padMode":"Constant","feature":"MelCepstrum","power":2,"nMels":64,"fMin":0,"fMax":null,"melScale":"Slaney","slaneyNorm":true,"logFloor":2.220446049250313E-16,"nMfcc":20,"cepstrumOrder":39,"alpha":0.42,"dropC0":true,"contextBefore":0,"contextAfter":0,"dimensions":39,"minimumFrames":1,"minimumSamples":1}""", typeof(MelCepstrumOptions))]
    [InlineData("""{"sampleRate":48000,"nFft":2048,"hopLength":512,"winLength":null,"window":"Hann","center":true,"padMode":"Constant","feature":"Mfcc","power":2,"nMels":128,"fMin":0,"fMax":null,"melScale":"Slaney","slaneyNorm":true,"logFloor":2.220446049250313E-16,"nMfcc":20,"cepstrumOrder":39,"alpha":0.42,"dropC0":true,"contextBefore":0,"contextAfter":0,"dimensions":20,"minimumFrames":1,"minimumSamples":1}""", typeof(MfccOptions))]
    public void EarlierFlatJson_LoadsAsItsFeaturesRecord_AndIsWrittenBackUnchanged(string json, Type record)
    {
        var config = FrontEndConfig.FromJson(json);
        Assert.IsType(record, config);
        Assert.Equal(48000, config.SampleRate);
        // written back as it came, but for the shortest clip, which is now at least one frame of n_fft samples
        Assert.Equal(System.Text.RegularExpressions.Regex.Replace(json, "\"minimumSamples\":\\d+", $"\"minimumSamples\":{config.MinimumSamples}"), config.ToJson());
    }

    [Fact]
    public void FlatJson_WithSettingsItsFeatureDoesNotUse_LoadsAndIgnoresThem()
    {
        var json = FrontEndConfig.MagnitudeSpectrogram.ToJson().Replace("\"nMels\":64", "\"nMels\":13").Replace("\"alpha\":0.42", "\"alpha\":0.3");
        Assert.Equal<FrontEndConfig>(FrontEndConfig.MagnitudeSpectrogram, FrontEndConfig.FromJson(json));
        Assert.Contains("front end: n_mfcc", Assert.Throws<InvalidOptionException>(() => FrontEndConfig.FromJson(new MfccOptions().ToJson().Replace("\"nMfcc\":20", "\"nMfcc\":0"))).Message);
    }

    [Fact]
    public void Validate_ReportsEveryProblemAtOnce()
    {
        var bad = new LogMelOptions { NFft = 256, WinLength = 400, HopLength = 0, FMax = 9000, LogFloor = 0, ContextBefore = -1 };
        var e = Assert.Throws<InvalidOptionException>(() => new FeatureExtractor(bad));
        Assert.Equal("front end: hop_length must be > 0 (got 0); win_length 400 must lie in [1, n_fft = 256]; context sizes must lie in [0, 4096] (got -1, 0); " +
            "fmax 9000 Hz is above the Nyquist frequency 8000 Hz; the log floor must be positive (got 0)", e.Message);
        Assert.Equal(["n_mfcc must lie in [1, n_mels = 64] (got 80)", "MFCCs start from the power spectrum: power must be 2 (got 1)"],
            new MfccOptions { NMfcc = 80, Power = 1 }.Problems());
        Assert.Equal(["the mel-cepstrum needs n_fft to be a power of two (got 400)", "cepstrum order must lie in [1, n_fft/2] (got 300)", "α must lie in (−1, 1) (got 1)"],
            new MelCepstrumOptions { NFft = 400, Order = 300, Alpha = 1 }.Problems());
        Assert.Equal(["power must be 1 (magnitude) or 2 (power) (got 3)"], new SpectrogramOptions { Power = 3 }.Problems());
        // values no front end can use, from a command line or a manifest: each named, nothing built from them
        Assert.Equal(["sample rate must lie in [1, 768000] Hz (got 2147483647)", "n_fft must lie in [2, 1048576] (got 2147483647)"],
            new SpectrogramOptions { SampleRate = int.MaxValue, NFft = int.MaxValue }.Problems());
        Assert.Equal(["n_mels must lie in [1, 4096] (got 100000000)"], new MelSpectrogramOptions { NMels = 100_000_000 }.Problems());
        Assert.Equal(["a filter bank of 4096 bands over 524289 bins is more than 67108864 weights; lower n_fft or n_mels"],
            new MelSpectrogramOptions { NFft = 1 << 20, NMels = 4096 }.Problems());
        Assert.Equal(["context sizes must lie in [0, 4096] (got 2147483647, 2147483647)"], new LogMelOptions { ContextBefore = int.MaxValue, ContextAfter = int.MaxValue }.Problems());
        Assert.Equal(["16785408 values per frame are more than 16777216; use fewer context frames"], new SpectrogramOptions { NFft = 4096, ContextBefore = 4096, ContextAfter = 4096 }.Problems());
        Assert.Equal(["fmin must be a frequency ≥ 0 Hz (got NaN)", "fmax must be a frequency > 0 Hz (got NaN)"], new MelSpectrogramOptions { FMin = double.NaN, FMax = double.NaN }.Problems());
        Assert.Equal(["fmax 4000 Hz must exceed fmin 5000 Hz"], new MelSpectrogramOptions { FMin = 5000, FMax = 4000 }.Problems());
        Assert.Equal(["sample rate must lie in [1, 768000] Hz (got -1)"], new MelSpectrogramOptions { SampleRate = -1 }.Problems()); // no knock-on fmax problem
        Assert.Empty(FrontEndConfig.PresetNames.SelectMany(name => FrontEndConfig.Preset(name).Problems()));
        Assert.Throws<InvalidOptionException>(() => FrontEndConfig.FromJson("{ not json"));
    }

    [Fact]
    public void Extract_RejectsWrongRatesChannelsAndShortClips()
    {
        var extractor = new FeatureExtractor(FrontEndConfig.Preset("dcase-logmel"));
        Assert.Contains("22050 Hz", Assert.Throws<InvalidAudioException>(() => extractor.Extract(Tone(440, 1, 22050), "x.wav")).Message);
        Assert.Throws<InvalidAudioException>(() => extractor.Extract(new AudioClip(new float[3200], 16000, 2)));
        Assert.Throws<InvalidAudioException>(() => extractor.Extract(new AudioClip(new float[800], 16000)));
        // uncentred frames need n_fft samples for the first one
        var uncentred = new FeatureExtractor(new SpectrogramOptions { Center = false });
        Assert.Equal("x.wav: is too short: 511 samples are fewer than one frame of n_fft = 512 (0.032 s at 16000 Hz)",
            Assert.Throws<InvalidAudioException>(() => uncentred.Extract(new AudioClip(new float[511], 16000), "x.wav")).Message);
        Assert.Equal(1, uncentred.Extract(new AudioClip(new float[512], 16000)).Rows);
    }

    [Fact]
    public void Loader_ComputesInParallel_AndReadsItsCacheTheSecondTime()
    {
        var dir = TestData.TempDirectory();
        for (var i = 0; i < 4; i++) AudioFile.Write(Path.Combine(dir, "audio", $"clip{i}.wav"), Tone(300 + 100 * i, 0.5));
        File.WriteAllText(Path.Combine(dir, "audio", "readme.txt"), "not audio");
        var files = AudioFiles.Find(Path.Combine(dir, "audio"));
        Assert.Equal(4, files.Count);
        Assert.Equal(4, AudioFiles.Find(Path.Combine(dir, "audio", "clip?.wav")).Count);
        Assert.Equal([Path.Combine(dir, "audio", "clip2.wav")], AudioFiles.Find(Path.Combine(dir, "audio", "clip2*")));
        var cache = Path.Combine(dir, "cache");
        var loader = new FeatureLoader(new FeatureExtractor(FrontEndConfig.Preset("dcase-logmel")), cache);
        var reports = new List<FeatureLoadProgress>();
        var first = loader.Load(files, new SyncProgress(reports));
        Assert.Equal(4, reports.Count);
        Assert.All(reports, r => Assert.False(r.FromCache));
        Assert.Equal(4, Directory.GetFiles(cache).Length);
        reports.Clear();
        var second = loader.Load(files, new SyncProgress(reports));
        Assert.All(reports, r => Assert.True(r.FromCache));
        for (var i = 0; i < 4; i++) Assert.Equal(first[i].Features.Data, second[i].Features.Data);
        // another configuration misses the cache
        var other = new FeatureLoader(new FeatureExtractor(FrontEndConfig.DcaseLogMel with { NMels = 32 }), cache);
        Assert.Equal(32 * 20, other.LoadFile(files[0]).Columns);
        Assert.Equal(5, Directory.GetFiles(cache).Length);
        Assert.Throws<InvalidFileException>(() => AudioFiles.Find(Path.Combine(dir, "nothing-here")));
    }

    sealed class SyncProgress(List<FeatureLoadProgress> sink) : IProgress<FeatureLoadProgress>
    {
        public void Report(FeatureLoadProgress value) { lock (sink) sink.Add(value); }
    }
}
