using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Errors;
using Pipeline.Training.Decomposition;
using Pipeline.Training.Synthesis;
using Pipeline.Tests;

namespace Pipeline.Training.Tests;

public class PianoTests
{
    [Fact]
    public void Piece_IsReproducible_AndItsPartsDiffer()
    {
        var a = new PianoSynth(3);
        var b = new PianoSynth(3);
        Assert.Equal(a.Compose(8, 0), b.Compose(8, 0));
        Assert.NotEqual(a.Compose(8, 0), a.Compose(8, 1));
        Assert.Equal(a.Render(a.Compose(4), 4).Samples, b.Render(b.Compose(4), 4).Samples);
        var notes = a.Compose(20);
        // every pitch of the piece is played, both voices overlap somewhere
        Assert.Equal(a.Pitches.Order(), notes.Select(n => n.Midi).Distinct().Order());
        Assert.Contains(notes, n => n.Voice == 0 && notes.Any(m => m.Voice == 1 && m.Onset < n.Offset && n.Onset < m.Offset));
    }

    [Fact]
    public void Voices_AddUpToTheMixture()
    {
        var synth = new PianoSynth(5);
        var notes = synth.Compose(6);
        var mixture = synth.Render(notes, 6).Samples;
        var (low, high) = (synth.Render(notes, 6, voice: 0).Samples, synth.Render(notes, 6, voice: 1).Samples);
        Assert.True(mixture.Max(Math.Abs) < 1, "the mixture clips");
        for (var i = 0; i < mixture.Length; i++) Assert.Equal(mixture[i], low[i] + high[i], 1e-6);
    }

    [Fact]
    public void Note_HasItsEnergyAtItsPartials()
    {
        var synth = new PianoSynth(1);
        var clip = synth.Render([new PianoNote(0.1, 0.9, 72, 0.8, 1)], 1.0);
        var v = new Stft(4096, 1024).Magnitude(clip.Samples);
        var f0 = 440 * Math.Pow(2, 3 / 12.0); // C5
        double Column(double hz) { var bin = (int)Math.Round(hz * 4096 / clip.SampleRate); double s = 0; for (var t = 0; t < v.Columns; t++) s += v.Data[bin * v.Columns + t]; return s; }
        // the fundamental and second partial stand far above the spectrum halfway between partials
        Assert.True(Column(f0) > 100 * Column(1.5 * f0), $"{Column(f0)} vs {Column(1.5 * f0)}");
        Assert.True(Column(2 * f0) > 100 * Column(2.5 * f0));
        // silence before the onset
        Assert.All(clip.Samples[..(int)(0.1 * clip.SampleRate)], s => Assert.Equal(0f, s));
    }

    [Fact]
    public void PianoRoll_MarksTheFramesWhoseCentresANoteCovers()
    {
        var synth = new PianoSynth(1);
        var roll = synth.PianoRoll([new PianoNote(0.5, 1.0, 48, 1, 0)], frames: 60, hopLength: 512);
        Assert.Equal([8, 60], roll.Shape);
        // frame t is centred on t·512/22050 s: frames 22 (0.5107 s) to 43 (0.9984 s) lie in [0.5, 1.0)
        for (var t = 0; t < 60; t++) Assert.Equal(t is >= 22 and <= 43 ? 1f : 0f, roll.Data[1 * 60 + t]);
        Assert.Equal(22, roll.Data.Sum());
        Assert.Throws<InvalidInputException>(() => synth.PianoRoll([new PianoNote(0, 1, 60, 1, 0)], 10, 512));
    }

    [Fact]
    public void DataSet_WritesAlignedSpectrogramsAndRolls()
    {
        var dir = Path.Combine(TestData.TempDirectory(), "piano");
        new PianoSynth(2).WriteDataSet(dir, trainSeconds: 3, testSeconds: 2, nFft: 1024, hopLength: 256);
        var v = NpyFile.Read(Path.Combine(dir, "V_test.npy"));
        var roll = NpyFile.Read(Path.Combine(dir, "roll_test.npy"));
        Assert.Equal([513, 1 + 2 * 22050 / 256], v.Shape);
        Assert.Equal([8, v.Columns], roll.Shape);
        Assert.Equal(22050, AudioFile.Read(Path.Combine(dir, "high_train.wav")).SampleRate);
        Assert.StartsWith("part,onset,offset,midi,velocity,voice", File.ReadAllText(Path.Combine(dir, "notes.csv")));
    }

    [Fact]
    public void Activity_OfAConvolutionalComponent_SpreadsHOverTheTemplateLags()
    {
        // one component, window 2: column masses 3 (lag 0) and 5 (lag 1); H = [1, 0, 2]
        var w = new NdArray([2, 2], [1, 2, 2, 3]);
        var h = new NdArray([1, 3], [1, 0, 2]);
        Assert.Equal([3f, 5f, 6f, 10f], NoteDetector.Activity(w, h).Data);
        // plain NMF: activity is H times each template's mass
        Assert.Equal([4f, 0f, 8f], NoteDetector.Activity(new NdArray([2, 1], [1, 3]), h).Data);
        Assert.Throws<InvalidInputException>(() => NoteDetector.Activity(new NdArray([2, 3], new float[6]), new NdArray([2, 3], new float[6])));
    }

    [Fact]
    public void Detector_PairsPitchesWithPlantedComponents_AndScoresCells()
    {
        var random = new Random(4);
        const int pitches = 4, components = 5, frames = 300;
        var roll = new NdArray([pitches, frames], Enumerable.Range(0, pitches * frames).Select(_ => random.NextDouble() < 0.3 ? 1f : 0f).ToArray());
        int[] componentOf = [3, 0, 4, 1]; // component 2 plays nothing
        NdArray Activity(NdArray r)
        {
            var a = new float[components * frames];
            for (var i = 0; i < a.Length; i++) a[i] = (float)(0.02 * random.NextDouble());
            for (var p = 0; p < pitches; p++)
                for (var t = 0; t < frames; t++) a[componentOf[p] * frames + t] += r.Data[p * frames + t] * (p + 1);
            return new NdArray([components, frames], a);
        }
        var detector = NoteDetector.Calibrate(Activity(roll), roll);
        Assert.Equal(componentOf, detector.ComponentOfPitch);
        var heldOut = new NdArray([pitches, frames], Enumerable.Range(0, pitches * frames).Select(_ => random.NextDouble() < 0.3 ? 1f : 0f).ToArray());
        var scores = NoteDetector.Score(detector.Detect(Activity(heldOut)), heldOut);
        Assert.Equal((1.0, 1.0, 1.0), (scores.Precision, scores.Recall, scores.F));

        var counted = NoteDetector.Score(new NdArray([1, 5], [1, 1, 0, 0, 1]), new NdArray([1, 5], [1, 0, 1, 0, 1]));
        Assert.Equal((2, 1, 1), (counted.TruePositives, counted.FalsePositives, counted.FalseNegatives));
        Assert.Equal(2.0 / 3, counted.F, 12);
        Assert.Throws<InvalidOptionException>(() => NoteDetector.Calibrate(new NdArray([3, frames], new float[3 * frames]), roll));
        Assert.Throws<InvalidInputException>(() => NoteDetector.Calibrate(new NdArray([5, 10], new float[50]), roll));
        Assert.Throws<InvalidInputException>(() => NoteDetector.Score(roll, new NdArray([pitches, 10], new float[pitches * 10])));
    }
}
