using System.Globalization;
using Pipeline.Shared.Errors;
using Pipeline.Training.Nn;
using Pipeline.Training.Optim;
using Pipeline.Training.Tensors;

namespace Pipeline.Training.Checkpoints;

/// <summary>
/// Everything a training job needs to continue exactly where it stopped, in one safetensors file: the
/// model's parameters and buffers (<c>model.&lt;state_dict name&gt;</c>), the optimiser's state tensors
/// (<c>optimizer.&lt;parameter name&gt;.exp_avg</c>, ...), and as metadata the optimiser's step count and
/// learning rate, the schedule's epoch, the generator's state and the caller's own entries.
/// </summary>
public static class Checkpoint
{
    const string Format = "pipeline-checkpoint/1";

    /// <summary>Writes a checkpoint atomically.</summary>
    public static void Save(string path, Module model, Optimizer? optimizer = null, LearningRateSchedule? schedule = null,
        Generator? generator = null, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var tensors = model.StateDict().Select(e => new KeyValuePair<string, Tensor>("model." + e.Key, e.Value)).ToList();
        var meta = new Dictionary<string, string> { ["format"] = Format };
        if (optimizer is not null)
        {
            foreach (var (name, index) in ParameterNames(model, optimizer))
                foreach (var (stateName, value) in optimizer.State(index))
                    tensors.Add(new($"optimizer.{name}.{stateName}", value));
            meta["optimizer.type"] = optimizer.GetType().Name;
            meta["optimizer.step"] = optimizer.StepCount.ToString(CultureInfo.InvariantCulture);
            meta["optimizer.lr"] = optimizer.LearningRate.ToString("R", CultureInfo.InvariantCulture);
        }
        if (schedule is not null) meta["schedule.epoch"] = schedule.Epoch.ToString(CultureInfo.InvariantCulture);
        if (generator is not null) meta["generator.state"] = string.Join(",", generator.State.Select(s => s.ToString("x16", CultureInfo.InvariantCulture)));
        if (metadata is not null)
            foreach (var (key, value) in metadata)
                if (!meta.TryAdd(key, value)) throw new InvalidInputException($"checkpoint metadata key '{key}' is reserved");
        SafeTensors.Write(path, tensors, meta);
    }

    /// <summary>
    /// Restores a checkpoint into <paramref name="model"/> (and the optimiser, schedule and generator when
    /// given) and returns its metadata. Everything is checked before anything changes; a checkpoint of another
    /// architecture fails with an <see cref="InvalidFileException"/> naming the first mismatching tensor.
    /// </summary>
    public static IReadOnlyDictionary<string, string> Load(string path, Module model, Optimizer? optimizer = null,
        LearningRateSchedule? schedule = null, Generator? generator = null)
    {
        var content = SafeTensors.Read(path);
        var meta = content.Metadata;
        if (!meta.TryGetValue("format", out var format) || format != Format)
            throw new InvalidFileException(path, $"not a Pipeline checkpoint (format '{format ?? "missing"}', expected '{Format}')");

        var modelState = content.Tensors.Where(e => e.Key.StartsWith("model.", StringComparison.Ordinal))
            .ToDictionary(e => e.Key["model.".Length..], e => e.Value);
        // Check the optimiser's tensors and the metadata first: a failed load must change nothing.
        var optimizerCopies = new List<(Tensor Target, Tensor Source)>();
        long step = 0;
        if (optimizer is not null)
        {
            if (!meta.TryGetValue("optimizer.type", out var type) || type != optimizer.GetType().Name)
                throw new InvalidFileException(path, $"holds the state of optimiser '{type ?? "none"}', not {optimizer.GetType().Name}");
            step = long.Parse(meta["optimizer.step"], CultureInfo.InvariantCulture);
            foreach (var (name, index) in ParameterNames(model, optimizer))
                foreach (var (stateName, value) in optimizer.State(index))
                {
                    var key = $"optimizer.{name}.{stateName}";
                    if (!content.Tensors.TryGetValue(key, out var saved))
                        throw new InvalidFileException(path, $"does not fit this model: it has no tensor '{key}'");
                    if (!saved.Shape.SequenceEqual(value.Shape))
                        throw new InvalidFileException(path, $"does not fit this model: tensor '{key}' has shape {Tensor.ShapeText(saved.Shape)}, the model needs {Tensor.ShapeText(value.Shape)}");
                    optimizerCopies.Add((value, saved));
                }
        }
        ulong[]? generatorState = null;
        if (generator is not null)
        {
            if (!meta.TryGetValue("generator.state", out var text)) throw new InvalidFileException(path, "has no generator state to resume from");
            generatorState = text.Split(',').Select(s => ulong.Parse(s, NumberStyles.HexNumber, CultureInfo.InvariantCulture)).ToArray();
        }
        var epoch = 0;
        if (schedule is not null && !(meta.TryGetValue("schedule.epoch", out var e) && int.TryParse(e, CultureInfo.InvariantCulture, out epoch)))
            throw new InvalidFileException(path, "has no learning-rate schedule epoch to resume from");

        try { model.LoadStateDict(modelState); }
        catch (InvalidInputException error) { throw new InvalidFileException(path, "does not fit this model: " + error.Message, error); }

        foreach (var (target, source) in optimizerCopies) target.CopyFrom(source);
        if (optimizer is not null)
        {
            optimizer.StepCount = step;
            optimizer.LearningRate = double.Parse(meta["optimizer.lr"], CultureInfo.InvariantCulture);
            if (optimizer is Sgd sgd) sgd.MarkStarted();
        }
        if (generatorState is not null) generator!.State = generatorState;
        schedule?.JumpTo(epoch);
        return meta;
    }

    static IEnumerable<(string Name, int Index)> ParameterNames(Module model, Optimizer optimizer)
    {
        var names = new Dictionary<Parameter, string>(ReferenceEqualityComparer.Instance);
        foreach (var (name, parameter) in model.NamedParameters()) names[parameter] = name;
        for (var i = 0; i < optimizer.Parameters.Count; i++)
        {
            if (!names.TryGetValue(optimizer.Parameters[i], out var name))
                throw new InvalidInputException($"optimiser parameter {i} does not belong to the model being checkpointed");
            yield return (name, i);
        }
    }
}
