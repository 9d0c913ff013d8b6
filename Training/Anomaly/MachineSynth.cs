using System.Globalization;
using Pipeline.Shared.Threading;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Errors;
using Pipeline.Training.Synthesis;

namespace Pipeline.Training.Anomaly;

/// <summary>The faults <see cref="MachineSynth"/> can plant in a clip.</summary>
public enum AnomalyKind
{
    /// <summary>A healthy machine.</summary>
    None,
    /// <summary>Periodic impacts of a damaged bearing ringing a 3–5 kHz resonance, at a non-integer multiple of the shaft rate.</summary>
    BearingClicks,
    /// <summary>Amplitude modulation at the shaft rate with a stronger first harmonic.</summary>
    Imbalance,
    /// <summary>Upper harmonics pulled off their integer multiples.</summary>
    ShiftedHarmonics,
    /// <summary>Random broadband bursts (20–70 ms) of a loose part.</summary>
    Rattle,
    /// <summary>The gear-mesh tone drops out once per gear revolution, with a knock.</summary>
    MissingTooth,
    /// <summary>A few brief broadband transients (0.5–2 ms) at random moments.</summary>
    Clicks,
    /// <summary>Dense tiny broadband impulses (30–150 a second), as of arcing or a dry contact.</summary>
    Crackle,
    /// <summary>A narrow-band tone at 2.5–6 kHz with vibrato, coming and going (friction).</summary>
    Squeal,
    /// <summary>A steady narrow-band tone at a high order (17–31) of the shaft rate, following the speed (a worn gear or fan).</summary>
    Whine,
    /// <summary>The speed drifts 6–12 % over the clip while the load raises the upper harmonics.</summary>
    SpeedChange,
    /// <summary>A raised broadband noise floor of another colour than the machine's own noise.</summary>
    NoiseFloor,
}

/// <summary>What one synthetic clip is.</summary>
/// <param name="MachineId">The machine (1, 2, ...): each has its own speed, timbre, gear and noise.</param>
/// <param name="Kind">The fault, or <see cref="AnomalyKind.None"/>.</param>
/// <param name="LevelDb">The fault's level relative to the machine in dB (see <see cref="MachineSynth"/>); ignored for a normal clip.</param>
/// <param name="Index">Which clip of its kind: every index is another recording.</param>
public sealed record MachineClipSpec(int MachineId, AnomalyKind Kind, double LevelDb, int Index);

/// <summary>
/// A deterministic ToyADMOS-like toy-car motor: a fundamental with slow speed wobble and decaying harmonics, a
/// gear-mesh tone with sidebands, coloured background noise and a broadband floor; each machine ID has its own
/// speed, timbre, gear and noise. A fault is mixed in at a documented level: the fault signal (the faulty rendering minus the healthy
/// one from the same random stream, so modulations and additions are measured alike) is scaled so that its RMS over
/// the 10 ms blocks where it is present (above 1 % of its loudest block) is <see cref="MachineClipSpec.LevelDb"/>
/// dB relative to the healthy machine's RMS over the clip. A brief click at 0 dB is as loud, while it lasts, as the
/// machine. The same seed and spec give the same samples on every machine.
/// </summary>
public sealed class MachineSynth
{
    /// <summary>The fault levels of a data set by default, in dB relative to the machine: subtle, clear, obvious.</summary>
    public static readonly IReadOnlyList<double> DefaultLevelsDb = [-30, -20, -10];

    /// <summary>Every fault kind.</summary>
    public static IReadOnlyList<AnomalyKind> AllKinds => [.. Enum.GetValues<AnomalyKind>().Where(k => k != AnomalyKind.None)];

    /// <summary>Sample rate of every clip.</summary>
    public int SampleRate { get; }
    /// <summary>Clip length in seconds.</summary>
    public double Seconds { get; }
    readonly long seed;

    /// <summary>Creates the synthesiser.</summary>
    public MachineSynth(long seed, int sampleRate = 16000, double seconds = 10)
    {
        if (sampleRate < 8000) throw new InvalidOptionException($"sample rate must be ≥ 8000 Hz, got {sampleRate}");
        if (!(seconds > 0)) throw new InvalidOptionException($"clip length must be positive, got {seconds} s");
        (this.seed, SampleRate, Seconds) = (seed, sampleRate, seconds);
    }

    sealed record Machine(double BaseHz, double[] Harmonics, int Teeth, double MeshLevel, double NoiseLevel, double NoiseColour, double FloorLevel, double FloorTilt);

    Machine MachineFor(int id)
    {
        // a machine's character depends on the job seed and its ID only
        var g = new SeededRandom(seed * 1_000_003 + id * 7919);
        var harmonics = new double[8];
        for (var k = 0; k < harmonics.Length; k++) harmonics[k] = Math.Pow(k + 1, -1.1) * (0.6 + 0.8 * g.NextDouble());
        return new Machine(70 + 15 * id + 10 * g.NextDouble(), harmonics, 13 + g.NextInt(8), 0.15 + 0.1 * g.NextDouble(),
            0.02 + 0.02 * g.NextDouble(), 0.9 + 0.08 * g.NextDouble(), 0.012 + 0.012 * g.NextDouble(), 0.2 + 0.4 * g.NextDouble());
    }

    /// <summary>Renders one clip; samples stay within [−1, 1].</summary>
    /// <exception cref="InvalidOptionException">The level is not finite or lies outside [−60, 20] dB.</exception>
    public AudioClip Render(MachineClipSpec spec)
    {
        var (healthy, fault) = Mix(spec);
        // one fixed gain for every clip: a per-clip normalisation would turn a fault's extra energy into a level
        // change of the whole clip, which a detector could spot without hearing the fault itself
        var samples = new float[healthy.Length];
        for (var i = 0; i < samples.Length; i++) samples[i] = (float)Math.Clamp(0.3 * (healthy[i] + fault[i]), -1.0, 1.0);
        return new AudioClip(samples, SampleRate);
    }

    /// <summary>The clip's two parts before the output gain: the healthy machine and the fault at its level (zeros for a normal clip).</summary>
    internal (double[] Healthy, double[] Fault) Mix(MachineClipSpec spec)
    {
        if (spec.Kind != AnomalyKind.None && !(spec.LevelDb is >= -60 and <= 20))
            throw new InvalidOptionException($"a fault's level must lie in [−60, 20] dB relative to the machine (got {spec.LevelDb} for {spec.Kind})");
        var machine = MachineFor(spec.MachineId);
        // every clip has its own stream, a fixed function of the job seed and the spec (HashCode is per-process, so not used)
        var level = spec.Kind == AnomalyKind.None ? 0 : (long)Math.Round(spec.LevelDb * 10) + 1000;
        var clipSeed = (((seed * 1_000_003 + spec.MachineId) * 101 + (int)spec.Kind) * 4001 + level) * 1_000_033 + spec.Index;
        var healthy = RenderMachine(machine, clipSeed, AnomalyKind.None, out _);
        var fault = new double[healthy.Length];
        if (spec.Kind == AnomalyKind.None) return (healthy, fault);
        var faulty = RenderMachine(machine, clipSeed, spec.Kind, out var shaftPhase);
        AddFault(faulty, shaftPhase, machine, spec.Kind, new SeededRandom(clipSeed ^ 0x5EED_F417));
        for (var i = 0; i < fault.Length; i++) fault[i] = faulty[i] - healthy[i];
        var gain = Rms(healthy) * Math.Pow(10, spec.LevelDb / 20) / Math.Max(PresentRms(fault), 1e-12);
        for (var i = 0; i < fault.Length; i++) fault[i] *= gain;
        return (healthy, fault);
    }

    /// <summary>The machine, with a modulating fault (imbalance, shifted harmonics, missing tooth, speed change) at full strength.</summary>
    double[] RenderMachine(Machine machine, long clipSeed, AnomalyKind kind, out double[] shaftPhase)
    {
        var g = new SeededRandom(clipSeed);
        var n = (int)(Seconds * SampleRate);
        var y = new double[n];
        shaftPhase = new double[n];
        var dt = 1.0 / SampleRate;
        // shaft speed: base × (1 + slow wobble + a small random walk), different on every clip
        var wobbleRate = 0.3 + 0.4 * g.NextDouble();
        var wobblePhase = 2 * Math.PI * g.NextDouble();
        var drift = 0.0;
        var speedScale = 1 + 0.02 * (g.NextDouble() - 0.5);
        double phase = 0, meshPhase = 0;
        var harmonicPhases = machine.Harmonics.Select(_ => 2 * Math.PI * g.NextDouble()).ToArray();
        var stretch = kind == AnomalyKind.ShiftedHarmonics ? 0.03 : 0.0;
        // a speed change drifts up or down by 6–12 % over the clip; the load behind it lifts the upper harmonics
        var speedChange = kind == AnomalyKind.SpeedChange ? (0.06 + 0.06 * ((clipSeed >>> 7) % 1000) / 1000.0) * ((clipSeed & 1) == 0 ? 1 : -1) : 0.0;
        var (noiseState, floorState) = (0.0, 0.0);
        const double gearPeriod = 4.0; // shaft turns per gear revolution
        for (var i = 0; i < n; i++)
        {
            var t = i * dt;
            drift += 2e-5 * (g.NextDouble() - 0.5);
            drift *= 0.9999;
            var progress = t / Seconds;
            var f = machine.BaseHz * speedScale * (1 + 0.01 * Math.Sin(2 * Math.PI * wobbleRate * t + wobblePhase) + drift) * (1 + speedChange * progress);
            phase += 2 * Math.PI * f * dt;
            shaftPhase[i] = phase;
            double motor = 0;
            for (var k = 0; k < machine.Harmonics.Length; k++)
            {
                var multiple = (k + 1) * (1 + stretch * k);
                var load = speedChange != 0 && k >= 2 ? 1 + 1.5 * progress : 1.0;
                motor += machine.Harmonics[k] * load * Math.Sin(multiple * phase + harmonicPhases[k]);
            }
            if (kind == AnomalyKind.Imbalance)
            {
                motor *= 1 + 0.6 * Math.Sin(phase);
                motor += 0.8 * Math.Sin(phase + 0.3);
            }
            // gear mesh: teeth × shaft rate / gear ratio, with sidebands at the shaft rate
            meshPhase += 2 * Math.PI * f * machine.Teeth / gearPeriod * dt;
            var mesh = machine.MeshLevel * Math.Sin(meshPhase) * (1 + 0.3 * Math.Sin(phase));
            if (kind == AnomalyKind.MissingTooth && phase / gearPeriod % (2 * Math.PI) < 2 * Math.PI / machine.Teeth) mesh = 0;
            // coloured background noise (a one-pole low-pass of white noise), and the broadband floor of the room and
            // the air around the machine (gently tilted white noise) that real recordings never lack
            noiseState = machine.NoiseColour * noiseState + (1 - machine.NoiseColour) * (2 * g.NextDouble() - 1) * 6;
            floorState = machine.FloorTilt * floorState + (2 * g.NextDouble() - 1);
            y[i] = 0.25 * motor + mesh + machine.NoiseLevel * noiseState + machine.FloorLevel * floorState;
        }
        return y;
    }

    /// <summary>Adds an additive fault to <paramref name="y"/> at a nominal strength (the level is set afterwards).</summary>
    void AddFault(double[] y, double[] shaftPhase, Machine machine, AnomalyKind kind, SeededRandom g)
    {
        var n = y.Length;
        switch (kind)
        {
            case AnomalyKind.BearingClicks:
                AddImpacts(y, g, machine.BaseHz * (2.3 + 0.8 * g.NextDouble()) / 4, 3000 + 2000 * g.NextDouble(), decay: 0.002, amplitude: 0.4, jitter: 0.1);
                break;
            case AnomalyKind.MissingTooth:
                AddImpacts(y, g, machine.BaseHz / 4, 1200 + 400 * g.NextDouble(), decay: 0.004, amplitude: 0.25, jitter: 0.0);
                break;
            case AnomalyKind.Rattle:
                for (var b = 0; b < (int)Math.Ceiling(Seconds * 4); b++)
                {
                    var start = g.NextInt(n);
                    var length = (int)(SampleRate * (0.02 + 0.05 * g.NextDouble()));
                    for (var i = start; i < Math.Min(n, start + length); i++)
                        y[i] += 0.35 * (2 * g.NextDouble() - 1) * Math.Exp(-(i - start) / (0.3 * length));
                }
                break;
            case AnomalyKind.Clicks:
                // 2–6 in a 10 s clip, at least one in any clip: a burst of white noise dying away in 0.5–2 ms
                for (var c = 0; c < Math.Max(1, (int)Math.Round(Seconds * (0.2 + 0.4 * g.NextDouble()))); c++)
                {
                    var start = g.NextInt(n);
                    var decay = SampleRate * (0.0005 + 0.0015 * g.NextDouble()) / 3;
                    var level = (g.NextDouble() < 0.5 ? -1 : 1) * (0.6 + 0.4 * g.NextDouble());
                    for (var i = start; i < Math.Min(n, start + (int)(6 * decay) + 1); i++)
                        y[i] += level * (2 * g.NextDouble() - 1) * Math.Exp(-(i - start) / decay);
                }
                break;
            case AnomalyKind.Crackle:
            {
                var rate = 30 + 120 * g.NextDouble();
                for (var at = -Math.Log(1 - g.NextDouble()) / rate; at < Seconds; at += -Math.Log(1 - g.NextDouble()) / rate)
                {
                    var start = (int)(at * SampleRate);
                    var level = Math.Exp(0.7 * Gaussian(g)) * (g.NextDouble() < 0.5 ? -1 : 1);
                    for (var i = start; i < Math.Min(n, start + 3); i++) y[i] += level * Math.Pow(0.4, i - start);
                }
                break;
            }
            case AnomalyKind.Squeal:
            {
                // 1–3 episodes of 0.3–1.5 s with 20 ms fades; the pitch wavers ±1 % at 4–7 Hz
                var pitch = 2500 + 3500 * g.NextDouble();
                var (vibrato, vibratoPhase) = (4 + 3 * g.NextDouble(), 2 * Math.PI * g.NextDouble());
                var envelope = new double[n];
                for (var e = 0; e < 1 + g.NextInt(3); e++)
                {
                    var length = (int)(SampleRate * Math.Min(Seconds, 0.3 + 1.2 * g.NextDouble()));
                    var start = g.NextInt(Math.Max(1, n - length));
                    var fade = SampleRate * 0.02;
                    for (var i = start; i < Math.Min(n, start + length); i++)
                        envelope[i] = Math.Max(envelope[i], Math.Min(1, Math.Min(i - start, start + length - i) / fade));
                }
                double squealPhase = 0;
                for (var i = 0; i < n; i++)
                {
                    squealPhase += 2 * Math.PI * pitch * (1 + 0.01 * Math.Sin(2 * Math.PI * vibrato * i / SampleRate + vibratoPhase)) / SampleRate;
                    y[i] += 0.3 * envelope[i] * Math.Sin(squealPhase);
                }
                break;
            }
            case AnomalyKind.Whine:
            {
                var order = 17 + g.NextInt(15);
                for (var i = 0; i < n; i++) y[i] += 0.2 * (1 + 0.2 * Math.Sin(shaftPhase[i])) * Math.Sin(order * shaftPhase[i]);
                break;
            }
            case AnomalyKind.NoiseFloor:
            {
                // white noise through a first difference: brighter than the machine's own low-passed noise
                var previous = 0.0;
                for (var i = 0; i < n; i++)
                {
                    var white = 2 * g.NextDouble() - 1;
                    y[i] += 0.1 * (white - 0.5 * previous);
                    previous = white;
                }
                break;
            }
        }
    }

    void AddImpacts(double[] y, SeededRandom g, double rate, double resonance, double decay, double amplitude, double jitter)
    {
        var period = SampleRate / rate;
        for (var at = period * g.NextDouble(); at < y.Length; at += period * (1 + jitter * (g.NextDouble() - 0.5)))
        {
            var start = (int)at;
            var level = amplitude * (0.7 + 0.6 * g.NextDouble());
            var length = (int)(decay * 6 * SampleRate);
            for (var i = 0; i < length && start + i < y.Length; i++)
            {
                var t = (double)i / SampleRate;
                y[start + i] += level * Math.Exp(-t / decay) * Math.Sin(2 * Math.PI * resonance * t);
            }
        }
    }

    static double Gaussian(SeededRandom g) => Math.Sqrt(-2 * Math.Log(1 - g.NextDouble())) * Math.Cos(2 * Math.PI * g.NextDouble());

    static double Rms(ReadOnlySpan<double> x)
    {
        double sum = 0;
        foreach (var v in x) sum += v * v;
        return Math.Sqrt(sum / Math.Max(x.Length, 1));
    }

    /// <summary>The RMS of <paramref name="fault"/> over its 10 ms blocks above 1 % of the loudest block's RMS: the level while it sounds.</summary>
    double PresentRms(double[] fault)
    {
        var block = Math.Max(1, SampleRate / 100);
        var energies = new List<double>();
        for (var start = 0; start < fault.Length; start += block)
        {
            var rms = Rms(fault.AsSpan(start, Math.Min(block, fault.Length - start)));
            energies.Add(rms * rms);
        }
        var loudest = energies.DefaultIfEmpty(0).Max();
        var present = energies.Where(e => e >= loudest * 1e-4).ToList(); // 1 % in amplitude
        return Math.Sqrt(present.DefaultIfEmpty(0).Average());
    }

    /// <summary>The file-name tag of a level: "-10db", "0db", "2.5db".</summary>
    public static string LevelTag(double levelDb) => levelDb.ToString("0.##", CultureInfo.InvariantCulture) + "db";

    /// <summary>
    /// Writes a ToyADMOS-style data set: <c>train_normal/</c>, <c>test_normal/</c> and <c>test_anomaly/</c> with files
    /// named <c>id_01_normal_0003.wav</c> and <c>id_02_anomaly_clicks_-10db_0001.wav</c>. Every fault kind of
    /// <paramref name="kinds"/> (all by default) appears at every level of <paramref name="levelsDb"/>
    /// (<see cref="DefaultLevelsDb"/> by default) for every machine. Returns the number of clips written.
    /// </summary>
    /// <exception cref="InvalidOptionException">A count is negative (or no machines or training clips), a kind is None, or a level is outside [−60, 20] dB.</exception>
    public int WriteDataSet(string directory, int machines = 3, int trainPerMachine = 30, int testNormalPerMachine = 15,
        int anomaliesPerKindAndLevel = 1, IProgress<(int Done, int Total)>? progress = null, IReadOnlyList<AnomalyKind>? kinds = null,
        IReadOnlyList<double>? levelsDb = null)
    {
        if (machines < 1 || trainPerMachine < 1 || testNormalPerMachine < 0 || anomaliesPerKindAndLevel < 0)
            throw new InvalidOptionException("synth: counts must be positive (machines, training clips) or non-negative (test clips)");
        kinds ??= AllKinds;
        levelsDb ??= DefaultLevelsDb;
        if (kinds.Contains(AnomalyKind.None)) throw new InvalidOptionException("synth: None is not a fault kind");
        if (levelsDb.Where(l => !(l is >= -60 and <= 20)).ToList() is [var bad, ..])
            throw new InvalidOptionException($"synth: fault levels must lie in [−60, 20] dB relative to the machine (got {bad})");
        var jobs = new List<(string Path, MachineClipSpec Spec)>();
        for (var id = 1; id <= machines; id++)
        {
            for (var i = 0; i < trainPerMachine; i++)
                jobs.Add(($"train_normal/id_{id:00}_normal_{i:0000}.wav", new MachineClipSpec(id, AnomalyKind.None, 0, i)));
            for (var i = 0; i < testNormalPerMachine; i++)
                jobs.Add(($"test_normal/id_{id:00}_normal_{i:0000}.wav", new MachineClipSpec(id, AnomalyKind.None, 0, 100_000 + i)));
            foreach (var kind in kinds.Distinct())
                foreach (var level in levelsDb.Distinct())
                    for (var i = 0; i < anomaliesPerKindAndLevel; i++)
                        jobs.Add(($"test_anomaly/id_{id:00}_anomaly_{kind.ToString().ToLowerInvariant()}_{LevelTag(level)}_{i:0000}.wav",
                            new MachineClipSpec(id, kind, level, i)));
        }
        var done = 0;
        Shared.Files.AtomicFile.WriteDirectory(directory, folder =>
        {
            Parallel.ForEach(jobs, ComputeThreads.Options, job =>
            {
                AudioFile.Write(Path.Combine(folder, job.Path), Render(job.Spec));
                progress?.Report((Interlocked.Increment(ref done), jobs.Count));
            });
            File.WriteAllText(Path.Combine(folder, Shared.Files.OutputFolderKind.DataSet.Marker), System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["kind"] = "machine", ["seed"] = seed, ["sample_rate"] = SampleRate, ["seconds"] = Seconds, ["machines"] = machines,
                ["train_per_machine"] = trainPerMachine, ["test_normal_per_machine"] = testNormalPerMachine,
                ["anomalies_per_kind_and_level"] = anomaliesPerKindAndLevel,
                ["fault_kinds"] = kinds.Distinct().Select(k => k.ToString().ToLowerInvariant()).ToList(),
                ["fault_levels_db"] = levelsDb.Distinct().ToList(),
                ["fault_level_definition"] = "RMS of the fault over the 10 ms blocks where it is present, relative to the healthy machine's RMS over the clip",
            }));
        });
        return jobs.Count;
    }
}
