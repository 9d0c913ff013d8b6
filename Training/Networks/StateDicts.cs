using System.Collections;
using Pipeline.Shared.Errors;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Pipeline.Training.Networks;

/// <summary>
/// A module's weights in the files PyTorch users exchange: PyTorch's own format (what
/// <c>torch.save(model.state_dict(), path)</c> writes; <c>torch.load</c> reads ours) and safetensors (by extension
/// <c>.safetensors</c>), through TorchSharp.PyBridge. Loading checks every name, shape and element type before it
/// changes anything, and names the first problem.
/// </summary>
public static class StateDicts
{
    /// <summary>Writes <paramref name="model"/>'s state dict to <paramref name="path"/> (safetensors when it ends in .safetensors).</summary>
    public static void Save(nn.Module model, string path)
    {
        using var memory = new MemoryStream();
        Save(model, memory, path);
        Shared.Files.AtomicFile.WriteAllBytes(path, memory.ToArray());
    }

    /// <summary>Writes <paramref name="model"/>'s state dict to <paramref name="destination"/> in the format <paramref name="fileName"/>'s extension names.</summary>
    public static void Save(nn.Module model, Stream destination, string fileName)
    {
        if (IsSafetensors(fileName)) model.save_safetensors(destination, leaveOpen: true);
        else model.save_py(destination, leaveOpen: true);
    }

    /// <summary>Loads a state dict saved by PyTorch or by <see cref="Save(nn.Module, string)"/> into <paramref name="model"/>.</summary>
    /// <exception cref="InvalidFileException">
    /// The file is missing or not a state dict, lacks a tensor the model has or holds one it has not, or a tensor's
    /// shape or element type differs from the model's (float64 weights: convert with <c>model.float()</c> before saving).
    /// </exception>
    public static void Load(nn.Module model, string path)
    {
        if (!File.Exists(path)) throw new InvalidFileException(path, "no such state dict");
        if (new FileInfo(path).Length == 0) throw new InvalidFileException(path, "is empty, not a state dict");
        Dictionary<string, Tensor> saved;
        try
        {
            saved = IsSafetensors(path)
                ? Safetensors.LoadStateDict(path)
                : PyTorchUnpickler.UnpickleStateDict(path).Cast<DictionaryEntry>().ToDictionary(e => (string)e.Key, e => (Tensor)e.Value!);
        }
        catch (Exception e) when (e is not PipelineException)
        {
            throw new InvalidFileException(path, $"is not a {(IsSafetensors(path) ? "safetensors" : "PyTorch")} state dict ({e.Message.Split('\n')[0].TrimEnd('.')})", e);
        }
        try
        {
            var target = model.state_dict();
            if (target.Keys.FirstOrDefault(k => !saved.ContainsKey(k)) is { } missing)
                throw new InvalidFileException(path, $"does not fit this model: it has no tensor '{missing}' ({saved.Count} tensors in the file, {target.Count} in the model)");
            if (saved.Keys.FirstOrDefault(k => !target.ContainsKey(k)) is { } extra)
                throw new InvalidFileException(path, $"does not fit this model: it holds a tensor '{extra}' the model has not");
            foreach (var (name, tensor) in target)
            {
                var other = saved[name];
                if (!other.shape.SequenceEqual(tensor.shape))
                    throw new InvalidFileException(path, $"does not fit this model: tensor '{name}' has shape ({string.Join(", ", other.shape)}), the model needs ({string.Join(", ", tensor.shape)})");
                if (other.dtype != tensor.dtype)
                    throw new InvalidFileException(path, $"tensor '{name}' is {Name(other.dtype)} but the model's is {Name(tensor.dtype)}; in PyTorch, convert the model (model.float() for float32) before saving");
            }
            using (no_grad())
                foreach (var (name, tensor) in target) tensor.copy_(saved[name]);
        }
        finally
        {
            foreach (var tensor in saved.Values) tensor.Dispose();
        }
    }

    static bool IsSafetensors(string path) => Path.TrimEndingDirectorySeparator(path).EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase);

    static string Name(ScalarType type) => type switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.Float64 => "float64",
        ScalarType.Float16 => "float16",
        ScalarType.BFloat16 => "bfloat16",
        ScalarType.Int64 => "int64",
        _ => type.ToString().ToLowerInvariant(),
    };
}
