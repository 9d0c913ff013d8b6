using Pipeline.Shared.Threading;
using Pipeline.Shared.Audio;
using Pipeline.Shared.Errors;
using Pipeline.Training.Tensors;

namespace Pipeline.Training.Anomaly;

/// <summary>The faults <see cref="MachineSynth"/> can plant in a clip.</summary>
public enum AnomalyKind
{
    /// <summary>A healthy machine.</summary>
    None,
    /// <summary>Periodic impacts of a damaged bearing ringing a high-frequency resonance.</summary>
    BearingClicks,
    /// <summary>Amplitude modulation at the shaft rate with a stronger first harmonic.</summary>
    Imbalance,
    /// <summary>Upper harmonics pulled off their integer multiples.</summary>
    ShiftedHarmonics,
    /// <summary>Random broadband bursts of a loose part.</summary>
    Rattle,
    /// <summary>The gear-mesh tone drops out once per gear revolution, with a knock.</summary>
    MissingTooth,
}

/// <summary>What one synthetic clip is.</summary>
public sealed record MachineClipSpec(int MachineId, AnomalyKind Kind, int Severity, int Index);

/// <summary>
/// A deterministic ToyADMOS-like toy-car motor: a fundamental with slow speed wobble and decaying harmonics, a
/// gear-mesh tone with sidebands, and coloured background noise; each machine ID has its own speed, timbre and
/// noise. Faults of five kinds at severities 1 (subtle) to 3 (obvious) are added on top. The same seed and
/// spec give the same samples on every machine.
/// </summary>
public sealed class MachineSynth
{
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

    sealed record Machine(double BaseHz, double[] Harmonics, int Teeth, double MeshLevel, double NoiseLevel, double NoiseColour);

    Machine MachineFor(int id)
    {
        // a machine's character depends on the job seed and its ID only
        var g = new Generator(seed * 1_000_003 + id * 7919);
        var harmonics = new double[8];
        for (var k = 0; k < harmonics.Length; k++) harmonics[k] = Math.Pow(k + 1, -1.1) * (0.6 + 0.8 * g.NextDouble());
        return new Machine(70 + 15 * id + 10 * g.NextDouble(), harmonics, 13 + g.NextInt(8), 0.15 + 0.1 * g.NextDouble(),
            0.02 + 0.02 * g.NextDouble(), 0.9 + 0.08 * g.NextDouble());
    }

    /// <summary>Renders one clip; samples stay within [−1, 1].</summary>
    public AudioClip Render(MachineClipSpec spec)
    {
        if (spec.Severity is < 0 or > 3 || (spec.Kind != AnomalyKind.None && spec.Severity == 0))
            throw new InvalidOptionException($"severity must be 1–3 for an anomaly (got {spec.Severity} for {spec.Kind})");
        var machine = MachineFor(spec.MachineId);
        // every clip has its own stream, a fixed function of the job seed and the spec (HashCode is per-process, so not used)
        var g = new Generator((((seed * 1_000_003 + spec.MachineId) * 101 + (int)spec.Kind) * 11 + spec.Severity) * 1_000_033 + spec.Index);
        var n = (int)(Seconds * SampleRate);
        var y = new double[n];
        var dt = 1.0 / SampleRate;
        var s = spec.Kind == AnomalyKind.None ? 0 : Math.Pow(spec.Severity / 3.0, 2); // 1/9, 4/9, 1: severity 1 is subtle

        // shaft speed: base × (1 + slow wobble + a small random walk), different on every clip
        var wobbleRate = 0.3 + 0.4 * g.NextDouble();
        var wobblePhase = 2 * Math.PI * g.NextDouble();
        var drift = 0.0;
        var speedScale = 1 + 0.02 * (g.NextDouble() - 0.5);
        double phase = 0, meshPhase = 0;
        var harmonicPhases = machine.Harmonics.Select(_ => 2 * Math.PI * g.NextDouble()).ToArray();
        var stretch = spec.Kind == AnomalyKind.ShiftedHarmonics ? 0.003 + 0.03 * s : 0.0;
        var noiseState = 0.0;
        var gearPeriod = 4.0; // shaft turns per gear revolution
        for (var i = 0; i < n; i++)
        {
            var t = i * dt;
            drift += 2e-5 * (g.NextDouble() - 0.5);
            drift *= 0.9999;
            var f = machine.BaseHz * speedScale * (1 + 0.01 * Math.Sin(2 * Math.PI * wobbleRate * t + wobblePhase) + drift);
            phase += 2 * Math.PI * f * dt;
            double motor = 0;
            for (var k = 0; k < machine.Harmonics.Length; k++)
            {
                var multiple = (k + 1) * (1 + stretch * k);
                motor += machine.Harmonics[k] * Math.Sin(multiple * phase + harmonicPhases[k]);
            }
            if (spec.Kind == AnomalyKind.Imbalance)
            {
                motor *= 1 + 0.6 * s * Math.Sin(phase);
                motor += 0.8 * s * Math.Sin(phase + 0.3);
            }
            // gear mesh: teeth × shaft rate / gear ratio, with sidebands at the shaft rate
            meshPhase += 2 * Math.PI * f * machine.Teeth / gearPeriod * dt;
            var mesh = machine.MeshLevel * Math.Sin(meshPhase) * (1 + 0.3 * Math.Sin(phase));
            if (spec.Kind == AnomalyKind.MissingTooth)
            {
                var toothAngle = phase / gearPeriod % (2 * Math.PI);
                var toothWidth = 2 * Math.PI / machine.Teeth;
                if (toothAngle < toothWidth) mesh *= 1 - (0.2 + 0.8 * s);
            }
            // coloured background noise (a one-pole low-pass of white noise)
            noiseState = machine.NoiseColour * noiseState + (1 - machine.NoiseColour) * (2 * g.NextDouble() - 1) * 6;
            y[i] = 0.25 * motor + mesh + machine.NoiseLevel * noiseState;
        }
        switch (spec.Kind)
        {
            case AnomalyKind.BearingClicks:
            {
                // impacts at a non-integer multiple of the shaft rate ring a 3–5 kHz resonance
                var rate = machine.BaseHz * (2.3 + 0.8 * g.NextDouble()) / 4;
                var resonance = 3000 + 2000 * g.NextDouble();
                AddImpacts(y, g, rate, resonance, decay: 0.002, amplitude: 0.4 * s, jitter: 0.1);
                break;
            }
            case AnomalyKind.Rattle:
            {
                var bursts = (int)Math.Ceiling(Seconds * (1 + 6 * s));
                for (var b = 0; b < bursts; b++)
                {
                    var start = g.NextInt(n);
                    var length = (int)(SampleRate * (0.02 + 0.05 * g.NextDouble()));
                    var level = 0.35 * s;
                    for (var i = start; i < Math.Min(n, start + length); i++)
                        y[i] += level * (2 * g.NextDouble() - 1) * Math.Exp(-(i - start) / (0.3 * length));
                }
                break;
            }
            case AnomalyKind.MissingTooth:
                AddImpacts(y, g, machine.BaseHz / 4, 1200 + 400 * g.NextDouble(), decay: 0.004, amplitude: 0.25 * s, jitter: 0.0);
                break;
        }
        // one fixed gain for every clip: a per-clip normalisation would turn a fault's extra energy into a level
        // change of the whole clip, which a detector could spot without hearing the fault itself
        var samples = new float[n];
        for (var i = 0; i < n; i++) samples[i] = (float)Math.Clamp(0.3 * y[i], -1.0, 1.0);
        return new AudioClip(samples, SampleRate);
    }

    void AddImpacts(double[] y, Generator g, double rate, double resonance, double decay, double amplitude, double jitter)
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

    /// <summary>
    /// Writes a ToyADMOS-style data set: <c>train_normal/</c>, <c>test_normal/</c> and <c>test_anomaly/</c> with files
    /// named <c>id_01_normal_0003.wav</c> and <c>id_02_anomaly_bearingclicks_s2_0001.wav</c>. Every anomaly kind
    /// appears at every severity for every machine. Returns the number of clips written.
    /// </summary>
    public int WriteDataSet(string directory, int machines = 3, int trainPerMachine = 30, int testNormalPerMachine = 15,
        int anomaliesPerKindAndSeverity = 1, IProgress<(int Done, int Total)>? progress = null)
    {
        if (machines < 1 || trainPerMachine < 1 || testNormalPerMachine < 0 || anomaliesPerKindAndSeverity < 0)
            throw new InvalidOptionException("synth: counts must be positive (machines, training clips) or non-negative (test clips)");
        var jobs = new List<(string Path, MachineClipSpec Spec)>();
        for (var id = 1; id <= machines; id++)
        {
            for (var i = 0; i < trainPerMachine; i++)
                jobs.Add(($"train_normal/id_{id:00}_normal_{i:0000}.wav", new MachineClipSpec(id, AnomalyKind.None, 0, i)));
            for (var i = 0; i < testNormalPerMachine; i++)
                jobs.Add(($"test_normal/id_{id:00}_normal_{i:0000}.wav", new MachineClipSpec(id, AnomalyKind.None, 0, 100_000 + i)));
            foreach (var kind in Enum.GetValues<AnomalyKind>().Where(k => k != AnomalyKind.None))
                for (var severity = 1; severity <= 3; severity++)
                    for (var i = 0; i < anomaliesPerKindAndSeverity; i++)
                        jobs.Add(($"test_anomaly/id_{id:00}_anomaly_{kind.ToString().ToLowerInvariant()}_s{severity}_{i:0000}.wav",
                            new MachineClipSpec(id, kind, severity, i)));
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
                ["anomalies_per_kind_and_severity"] = anomaliesPerKindAndSeverity,
            }));
        });
        return jobs.Count;
    }
}
