using Pipeline.Shared.Errors;
using TorchSharp;
using static TorchSharp.torch;

namespace Pipeline.Training.Networks;

/// <summary>
/// A training job's state in one file, written after every epoch so a killed job resumes to the same model: the
/// module's state dict (with its names and shapes first, so a checkpoint of another architecture is refused naming
/// the first mismatched tensor), the optimiser's state, LibTorch's generator (dropout) and the job's shuffling
/// generator, the epochs done and their training and validation losses, and the job's settings (so a resume with
/// other settings is refused, naming them). A SHA-256 of the contents follows the format name, so a damaged file is
/// refused rather than resumed. Written atomically (a temporary name, then a rename).
/// </summary>
public static class TorchCheckpoint
{
    const string Format = "pipeline-torch-checkpoint-2";

    /// <summary>What a checkpoint restores besides the tensors.</summary>
    /// <param name="Settings">The job's settings that a resume must keep (learning rate, batch size, seed, ...), by name.</param>
    public sealed record Progress(int EpochsDone, IReadOnlyList<double> Losses, IReadOnlyList<double> ValidationLosses,
        IReadOnlyDictionary<string, string> Settings);

    /// <summary>Writes the job's state to <paramref name="path"/>.</summary>
    public static void Save(string path, nn.Module model, TorchSharp.Modules.OptimizerHelper optimizer, Generator shuffling, Progress progress)
    {
        using var memory = new MemoryStream();
        using (var writer = new BinaryWriter(memory, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(progress.EpochsDone);
            writer.Write(progress.Settings.Count);
            foreach (var (name, value) in progress.Settings) { writer.Write(name); writer.Write(value); }
            writer.Write(progress.Losses.Count);
            foreach (var loss in progress.Losses) writer.Write(loss);
            writer.Write(progress.ValidationLosses.Count);
            foreach (var loss in progress.ValidationLosses) writer.Write(loss);
            var state = model.state_dict();
            writer.Write(state.Count);
            foreach (var (name, tensor) in state)
            {
                writer.Write(name);
                writer.Write(tensor.dim());
                foreach (var size in tensor.shape) writer.Write(size);
            }
            model.save(writer);
            optimizer.save_state_dict(writer);
            using (var rng = get_rng_state()) rng.Save(writer);
            using (var shuffle = shuffling.get_state()) shuffle.Save(writer);
        }
        using var file = new MemoryStream();
        using (var writer = new BinaryWriter(file, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(Format);
            writer.Write(System.Security.Cryptography.SHA256.HashData(memory.GetBuffer().AsSpan(0, (int)memory.Length)));
            writer.Write(memory.GetBuffer(), 0, (int)memory.Length);
        }
        Shared.Files.AtomicFile.WriteAllBytes(path, file.ToArray());
    }

    // a damaged count is refused before it is allocated
    static double[] ReadDoubles(BinaryReader reader)
    {
        var count = reader.ReadInt32();
        if (count < 0 || count > (reader.BaseStream.Length - reader.BaseStream.Position) / sizeof(double)) throw new FormatException($"a list of {count} losses");
        var values = new double[count];
        for (var i = 0; i < count; i++) values[i] = reader.ReadDouble();
        return values;
    }

    /// <summary>Restores the job's state from <paramref name="path"/> into the given objects and returns its progress.</summary>
    /// <exception cref="InvalidFileException">
    /// The file is missing, truncated or not such a checkpoint, or holds another architecture's tensors (the first
    /// mismatch named, with both shapes).
    /// </exception>
    public static Progress Load(string path, nn.Module model, TorchSharp.Modules.OptimizerHelper optimizer, Generator shuffling)
    {
        if (!File.Exists(path)) throw new InvalidFileException(path, "no such checkpoint");
        try
        {
            using var file = new BinaryReader(File.OpenRead(path));
            var format = file.ReadString();
            if (format != Format)
                throw new InvalidFileException(path, format.StartsWith("pipeline-torch-checkpoint-", StringComparison.Ordinal)
                    ? $"a Pipeline training checkpoint of another version ('{format}'; this build reads '{Format}'): start again without resuming"
                    : "not a Pipeline training checkpoint");
            var hash = file.ReadBytes(32);
            var contents = file.ReadBytes((int)(file.BaseStream.Length - file.BaseStream.Position));
            if (hash.Length != 32 || !System.Security.Cryptography.SHA256.HashData(contents).AsSpan().SequenceEqual(hash))
                throw new InvalidFileException(path, "is truncated or damaged: its contents do not match the checksum written with them (a partial copy or a disk error); restore it, or start again without resuming");
            using var reader = new BinaryReader(new MemoryStream(contents));
            var done = reader.ReadInt32();
            var settings = new Dictionary<string, string>();
            for (int i = 0, n = reader.ReadInt32(); i < n; i++) settings[reader.ReadString()] = reader.ReadString();
            var losses = ReadDoubles(reader);
            var validation = ReadDoubles(reader);
            var expected = model.state_dict();
            var count = reader.ReadInt32();
            var seen = new HashSet<string>();
            for (var i = 0; i < count; i++)
            {
                var name = reader.ReadString();
                var shape = new long[reader.ReadInt64()];
                for (var d = 0; d < shape.Length; d++) shape[d] = reader.ReadInt64();
                if (!expected.TryGetValue(name, out var tensor))
                    throw new InvalidFileException(path, $"does not fit this model: it holds a tensor '{name}' the model has not");
                if (!tensor.shape.SequenceEqual(shape))
                    throw new InvalidFileException(path, $"does not fit this model: tensor '{name}' has shape ({string.Join(", ", shape)}), the model needs ({string.Join(", ", tensor.shape)})");
                seen.Add(name);
            }
            if (expected.Keys.FirstOrDefault(k => !seen.Contains(k)) is { } missing)
                throw new InvalidFileException(path, $"does not fit this model: it has no tensor '{missing}'");
            model.load(reader);
            optimizer.load_state_dict(reader);
            using (var rng = Tensor.Load(reader)) set_rng_state(rng);
            using (var shuffle = Tensor.Load(reader)) shuffling.set_state(shuffle);
            return new Progress(done, losses, validation, settings);
        }
        catch (Exception e) when (e is EndOfStreamException or IOException or ArgumentException or FormatException or OverflowException
                                      or System.Runtime.InteropServices.ExternalException)
        {
            throw new InvalidFileException(path, $"is truncated or not a training checkpoint ({e.Message.Split('\n')[0].TrimEnd('.')})", e);
        }
    }
}
