using Pipeline.Shared.Arrays;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Errors;

namespace Pipeline.Training.Synthesis;

/// <summary>One note of a synthetic piece: seconds, MIDI pitch, velocity in (0, 1], and the voice that plays it.</summary>
public sealed record PianoNote(double Onset, double Offset, int Midi, double Velocity, int Voice);

/// <summary>
/// A deterministic piano-like piece whose notes are known: two voices (a low accompaniment that sometimes plays
/// dyads, and a melody above it), each note a slightly inharmonic tone whose partials decay exponentially, the
/// upper ones faster, with a short attack and a damper release. Notes of both voices overlap, as in real music,
/// so a decomposition has to pull pitches apart rather than find them one at a time.
/// </summary>
public sealed class PianoSynth
{
    /// <summary>Sample rate of the rendered audio.</summary>
    public int SampleRate { get; }

    /// <summary>The pitches the piece uses (MIDI numbers), low voice first; a piano roll's rows follow this order.</summary>
    public IReadOnlyList<int> Pitches { get; } = [45, 48, 52, 55, 72, 74, 76, 79];

    /// <summary>Which voice (0 low, 1 high) each of <see cref="Pitches"/> belongs to.</summary>
    public int VoiceOf(int midi) => midi < 60 ? 0 : 1;

    readonly long seed;

    /// <summary>Creates the synthesiser; the same seed composes and renders the same piece.</summary>
    public PianoSynth(long seed, int sampleRate = 22050)
    {
        if (sampleRate < 8000) throw new InvalidOptionException($"sample rate must be ≥ 8000 Hz, got {sampleRate}");
        (this.seed, SampleRate) = (seed, sampleRate);
    }

    /// <summary>
    /// Composes <paramref name="seconds"/> of music. <paramref name="part"/> selects an independent stream, so a
    /// training part and a held-out part are different music with the same instrument.
    /// </summary>
    public IReadOnlyList<PianoNote> Compose(double seconds, int part = 0)
    {
        if (!(seconds > 0)) throw new InvalidOptionException($"piece length must be positive, got {seconds} s");
        var g = new SeededRandom(seed * 1_000_003 + part * 7919 + 17);
        var notes = new List<PianoNote>();
        var low = Pitches.Where(p => VoiceOf(p) == 0).ToArray();
        var high = Pitches.Where(p => VoiceOf(p) == 1).ToArray();
        double[] lengths = [0.25, 0.5, 0.5, 0.75, 1.0];
        // each voice opens with all its pitches in a seeded order, so every part holds every pitch
        // low voice: steady notes, a dyad one time in three
        var lowOpening = g.Permutation(low.Length);
        var count = 0;
        for (var t = 0.1; t < seconds - 0.3; count++)
        {
            var length = lengths[g.NextInt(lengths.Length)];
            var end = Math.Min(t + length * 0.9, seconds - 0.05);
            var first = count < low.Length ? lowOpening[count] : g.NextInt(low.Length);
            notes.Add(new PianoNote(t, end, low[first], 0.5 + 0.4 * g.NextDouble(), 0));
            if (g.NextDouble() < 1 / 3.0)
            {
                var second = (first + 1 + g.NextInt(low.Length - 1)) % low.Length;
                notes.Add(new PianoNote(t, end, low[second], 0.4 + 0.4 * g.NextDouble(), 0));
            }
            t += length;
        }
        // melody: shorter notes with rests, stepping to a neighbouring pitch or leaping anywhere
        var highOpening = g.Permutation(high.Length);
        var index = 0;
        count = 0;
        for (var t = 0.1 + 0.25 * g.NextInt(2); t < seconds - 0.3;)
        {
            var length = lengths[g.NextInt(lengths.Length - 1)];
            if (count >= high.Length && g.NextDouble() < 0.15) { t += length; continue; }
            index = count < high.Length ? highOpening[count]
                : g.NextDouble() < 0.6 ? Math.Clamp(index + 2 * g.NextInt(2) - 1, 0, high.Length - 1) : g.NextInt(high.Length);
            count++;
            notes.Add(new PianoNote(t, Math.Min(t + length * 0.85, seconds - 0.05), high[index], 0.4 + 0.5 * g.NextDouble(), 1));
            t += length;
        }
        return [.. notes.OrderBy(n => n.Onset).ThenBy(n => n.Midi)];
    }

    /// <summary>Renders <paramref name="notes"/> (only <paramref name="voice"/>'s when given) into <paramref name="seconds"/> of mono audio.</summary>
    public AudioClip Render(IReadOnlyList<PianoNote> notes, double seconds, int? voice = null)
    {
        var n = (int)(seconds * SampleRate);
        var y = new double[n];
        foreach (var note in notes)
            if (voice is null || note.Voice == voice) AddNote(y, note);
        // one fixed gain, so the voices rendered alone add up to the mixture sample for sample
        var samples = new float[n];
        for (var i = 0; i < n; i++) samples[i] = (float)Math.Clamp(0.15 * y[i], -1.0, 1.0);
        return new AudioClip(samples, SampleRate);
    }

    void AddNote(double[] y, PianoNote note)
    {
        var f0 = 440 * Math.Pow(2, (note.Midi - 69) / 12.0);
        // each pitch has its own fixed timbre (partial levels and phases), independent of the note
        var timbre = new SeededRandom(seed * 31 + note.Midi);
        const double inharmonicity = 2e-4;
        var tau = 1.2 * Math.Pow(261.6 / f0, 0.4); // low strings ring longer
        var start = (int)(note.Onset * SampleRate);
        var release = (int)(note.Offset * SampleRate);
        var end = Math.Min(y.Length, release + (int)(0.25 * SampleRate));
        for (var k = 1; k * f0 * Math.Sqrt(1 + inharmonicity * k * k) < 0.45 * SampleRate && k <= 30; k++)
        {
            var fk = k * f0 * Math.Sqrt(1 + inharmonicity * k * k);
            var level = note.Velocity * Math.Pow(k, -1.3) * (0.6 + 0.8 * timbre.NextDouble());
            var phase = 2 * Math.PI * timbre.NextDouble();
            var decay = tau / (1 + 0.35 * (k - 1));
            var step = 2 * Math.PI * fk / SampleRate;
            for (var i = start; i < end; i++)
            {
                var t = (double)(i - start) / SampleRate;
                var envelope = Math.Min(1, t / 0.004) * Math.Exp(-t / decay);
                if (i >= release) envelope *= Math.Exp(-(double)(i - release) / SampleRate / 0.03); // the damper
                y[i] += level * envelope * Math.Sin(step * (i - start) + phase);
            }
        }
    }

    /// <summary>
    /// The ground truth: a (pitches × frames) matrix with 1 where a note sounds at the centre of frame t (sample
    /// t·hop, the centred STFT's convention), rows in <see cref="Pitches"/> order.
    /// </summary>
    public NdArray PianoRoll(IReadOnlyList<PianoNote> notes, int frames, int hopLength)
    {
        var roll = new NdArray([Pitches.Count, frames], new float[Pitches.Count * frames]);
        foreach (var note in notes)
        {
            var row = IndexOf(note.Midi);
            var first = (int)Math.Ceiling(note.Onset * SampleRate / hopLength);
            var last = (int)Math.Ceiling(note.Offset * SampleRate / hopLength) - 1;
            for (var t = Math.Max(0, first); t <= Math.Min(frames - 1, last); t++) roll.Data[row * frames + t] = 1;
        }
        return roll;
    }

    int IndexOf(int midi)
    {
        for (var i = 0; i < Pitches.Count; i++)
            if (Pitches[i] == midi) return i;
        throw new InvalidInputException($"MIDI pitch {midi} is not one of the piece's pitches");
    }

    /// <summary>
    /// Writes a transcription and separation data set: a training part and a held-out part, each as the mixture
    /// (<c>train.wav</c>, <c>test.wav</c>), each voice alone (<c>low_train.wav</c>, <c>high_test.wav</c>, …), the
    /// magnitude STFT <c>V_train.npy</c> / <c>V_test.npy</c> (bins × frames), the piano roll <c>roll_train.npy</c> /
    /// <c>roll_test.npy</c> (pitches × frames, aligned with V), the notes as <c>notes.csv</c> and the settings as
    /// <c>dataset.json</c>. The folder appears whole or not at all.
    /// </summary>
    public void WriteDataSet(string directory, double trainSeconds = 30, double testSeconds = 15, int nFft = 2048, int hopLength = 512)
    {
        var stft = new Stft(nFft, hopLength);
        var parts = new[] { ("train", Compose(trainSeconds, 0), trainSeconds), ("test", Compose(testSeconds, 1), testSeconds) };
        Shared.Files.AtomicFile.WriteDirectory(directory, folder =>
        {
            var csv = new System.Text.StringBuilder("part,onset,offset,midi,velocity,voice\n");
            foreach (var (part, notes, seconds) in parts)
            {
                var mixture = Render(notes, seconds);
                AudioFile.Write(Path.Combine(folder, $"{part}.wav"), mixture, AudioEncoding.Float32);
                for (var voice = 0; voice < 2; voice++)
                    AudioFile.Write(Path.Combine(folder, $"{(voice == 0 ? "low" : "high")}_{part}.wav"), Render(notes, seconds, voice), AudioEncoding.Float32);
                var v = stft.Magnitude(mixture.Samples, 1f, $"{part}.wav");
                NpyFile.Write(Path.Combine(folder, $"V_{part}.npy"), v);
                NpyFile.Write(Path.Combine(folder, $"roll_{part}.npy"), PianoRoll(notes, v.Columns, hopLength));
                foreach (var note in notes)
                    csv.Append(System.FormattableString.Invariant($"{part},{note.Onset:F4},{note.Offset:F4},{note.Midi},{note.Velocity:F3},{note.Voice}\n"));
            }
            File.WriteAllText(Path.Combine(folder, "notes.csv"), csv.ToString());
            File.WriteAllText(Path.Combine(folder, Shared.Files.OutputFolderKind.DataSet.Marker), System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["kind"] = "piano", ["seed"] = seed, ["sample_rate"] = SampleRate, ["n_fft"] = nFft, ["hop_length"] = hopLength,
                ["train_seconds"] = trainSeconds, ["test_seconds"] = testSeconds, ["pitches"] = Pitches,
                ["voices"] = new[] { "low", "high" },
            }));
        });
    }
}
