using System.Text;
using Pipeline.Shared.Errors;
using Pipeline.Training.Tensors;

namespace Pipeline.Training.Nn;

/// <summary>A tensor that a <see cref="Module"/> owns and an optimiser updates; it always requires gradients.</summary>
public sealed class Parameter : Tensor
{
    /// <summary>Takes over <paramref name="data"/>'s numbers (a detached copy with its own storage).</summary>
    public Parameter(Tensor data) : base(data.Span.ToArray(), 0, [.. data.Shape]) => RequiresGrad = true;
}

/// <summary>
/// Base of every layer and model, as <c>torch.nn.Module</c>: named parameters, buffers (state that is saved
/// but not trained, such as running statistics) and child modules, with dotted names
/// (<c>"0.weight"</c>, <c>"bn1.running_mean"</c>) that match PyTorch's <c>state_dict</c> keys.
/// </summary>
public abstract class Module
{
    readonly List<KeyValuePair<string, Parameter>> parameters = [];
    readonly List<KeyValuePair<string, Tensor>> buffers = [];
    readonly List<KeyValuePair<string, Module>> children = [];

    /// <summary>Computes the module's output.</summary>
    public abstract Tensor Forward(Tensor input);

    /// <summary>True in training mode (dropout active, batch statistics), false after <see cref="Eval"/>.</summary>
    public bool IsTraining { get; private set; } = true;

    /// <summary>Switches this module and its children to training (or, with false, evaluation) mode.</summary>
    public Module Train(bool training = true)
    {
        IsTraining = training;
        foreach (var child in children) child.Value.Train(training);
        return this;
    }

    /// <summary>Switches to evaluation mode.</summary>
    public Module Eval() => Train(false);

    /// <summary>Registers a trainable tensor under <paramref name="name"/>.</summary>
    protected Parameter RegisterParameter(string name, Tensor value)
    {
        CheckName(name);
        var parameter = value as Parameter ?? new Parameter(value);
        parameters.Add(new(name, parameter));
        return parameter;
    }

    /// <summary>Registers a saved, untrained tensor (updated in place by the module).</summary>
    protected Tensor RegisterBuffer(string name, Tensor value)
    {
        CheckName(name);
        buffers.Add(new(name, value));
        return value;
    }

    /// <summary>Registers a child module under <paramref name="name"/>.</summary>
    protected T RegisterModule<T>(string name, T module) where T : Module
    {
        CheckName(name);
        children.Add(new(name, module));
        return module;
    }

    void CheckName(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('.'))
            throw new ArgumentException($"'{name}' is not a valid member name (non-empty, no dots)");
        if (parameters.Any(p => p.Key == name) || buffers.Any(b => b.Key == name) || children.Any(c => c.Key == name))
            throw new ArgumentException($"'{name}' is already registered on {GetType().Name}");
    }

    /// <summary>Parameters of this module and its children, depth first, with dotted names.</summary>
    public IEnumerable<(string Name, Parameter Parameter)> NamedParameters()
    {
        foreach (var p in parameters) yield return (p.Key, p.Value);
        foreach (var child in children)
            foreach (var (name, p) in child.Value.NamedParameters())
                yield return ($"{child.Key}.{name}", p);
    }

    /// <summary>All parameters, in <see cref="NamedParameters"/> order (the order optimisers and checkpoints use).</summary>
    public IReadOnlyList<Parameter> Parameters() => NamedParameters().Select(p => p.Parameter).ToList();

    /// <summary>Buffers of this module and its children, with dotted names.</summary>
    public IEnumerable<(string Name, Tensor Buffer)> NamedBuffers()
    {
        foreach (var b in buffers) yield return (b.Key, b.Value);
        foreach (var child in children)
            foreach (var (name, b) in child.Value.NamedBuffers())
                yield return ($"{child.Key}.{name}", b);
    }

    /// <summary>Direct children with their names.</summary>
    public IEnumerable<(string Name, Module Module)> NamedChildren() => children.Select(c => (c.Key, c.Value));

    /// <summary>Number of trainable numbers.</summary>
    public long ParameterCount => Parameters().Sum(p => (long)p.Count);

    /// <summary>Parameters then buffers, per module, under PyTorch's <c>state_dict</c> names (the tensors themselves, not copies).</summary>
    public IReadOnlyList<KeyValuePair<string, Tensor>> StateDict()
    {
        var state = new List<KeyValuePair<string, Tensor>>();
        foreach (var p in parameters) state.Add(new(p.Key, p.Value));
        foreach (var b in buffers) state.Add(new(b.Key, b.Value));
        foreach (var child in children)
            foreach (var entry in child.Value.StateDict())
                state.Add(new($"{child.Key}.{entry.Key}", entry.Value));
        return state;
    }

    /// <summary>
    /// Copies every tensor of <paramref name="state"/> into the module in place. The names and shapes must
    /// match exactly; otherwise nothing is changed and the error names the first mismatching tensor.
    /// </summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state)
    {
        var own = StateDict();
        foreach (var (name, tensor) in own)
        {
            if (!state.TryGetValue(name, out var source))
                throw new InvalidInputException($"the state has no tensor '{name}' that {GetType().Name} needs");
            if (!source.Shape.SequenceEqual(tensor.Shape))
                throw new InvalidInputException($"tensor '{name}' has shape {Tensor.ShapeText(source.Shape)} in the state but {Tensor.ShapeText(tensor.Shape)} in {GetType().Name}");
        }
        var known = own.Select(e => e.Key).ToHashSet();
        foreach (var name in state.Keys)
            if (!known.Contains(name))
                throw new InvalidInputException($"the state has a tensor '{name}' that {GetType().Name} does not have");
        foreach (var (name, tensor) in own) tensor.CopyFrom(state[name]);
    }

    /// <summary>Clears every parameter's gradient.</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters()) p.Grad = null;
    }

    /// <summary>A one-line description of this module's own configuration (children are listed by <see cref="ToString"/>).</summary>
    protected virtual string Describe() => GetType().Name + "()";

    /// <summary>The module tree, one module per line, as PyTorch prints it.</summary>
    public override string ToString()
    {
        var text = new StringBuilder();
        Write(text, "", "");
        return text.ToString().TrimEnd();
    }

    void Write(StringBuilder text, string indent, string label)
    {
        if (children.Count == 0) { text.AppendLine($"{indent}{label}{Describe()}"); return; }
        text.AppendLine($"{indent}{label}{GetType().Name}(");
        foreach (var child in children) child.Value.Write(text, indent + "  ", $"({child.Key}): ");
        text.AppendLine($"{indent})");
    }
}
