using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;

/// <summary>
/// Compiled into both hosts (not into the Shared library, which stays free of System.CommandLine).
/// The options every command of a host takes, with the same names and meanings everywhere: <c>--quiet</c>,
/// <c>--json</c>, <c>--threads</c>, <c>--verbose</c> (and the root's <c>--version</c>, <c>--help</c>).
/// </summary>
sealed class CommonOptions
{
    public Option<bool> Verbose { get; } = new("--verbose") { Description = "Print stack traces of errors", Recursive = true };
    public Option<bool> Quiet { get; } = new("--quiet", "-q") { Description = "Print only errors (no progress)", Recursive = true };
    public Option<bool> Json { get; } = new("--json") { Description = "Print a machine-readable summary (one JSON object) on standard output", Recursive = true };
    public Option<int> Threads { get; } = new("--threads")
    {
        Description = "Threads for the computation (0: one per core)", Recursive = true, DefaultValueFactory = _ => 0,
        CustomParser = r => int.TryParse(r.Tokens.Single().Value, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var n) ? n
            : Refuse<int>(r, $"--threads takes a whole number (0: one per core), not '{r.Tokens.Single().Value}'"),
    };

    /// <summary>For an option's custom parser: records <paramref name="message"/> as the parse error and returns a placeholder.</summary>
    public static T Refuse<T>(System.CommandLine.Parsing.ArgumentResult result, string message)
    {
        result.AddError(message);
        return default!;
    }

    /// <summary>Added by the commands that write an output folder (not recursive: it means nothing elsewhere).</summary>
    public Option<bool> Force { get; } = new("--force") { Description = "Replace an existing output folder even when it is not an earlier output of the same kind" };

    /// <summary>The outputs of one command, checked up front and written all or none; <c>--force</c> as given.</summary>
    public Pipeline.Shared.Files.OutputSet Outputs(ParseResult parse) => new(parse.GetValue(Force));

    static readonly JsonSerializerOptions Format = new() { NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals };

    /// <summary>Where progress and messages go: standard error, or nowhere with --quiet.</summary>
    public TextWriter Log(ParseResult parse) => parse.GetValue(Quiet) ? TextWriter.Null : Console.Error;

    /// <summary>With --json, writes <paramref name="summary"/> as one line of JSON on standard output.</summary>
    public void Summary(ParseResult parse, IReadOnlyDictionary<string, object?> summary)
    {
        if (parse.GetValue(Json)) Console.Out.WriteLine(JsonSerializer.Serialize(summary, Format));
    }

    public IEnumerable<Option> All => [Verbose, Quiet, Json, Threads];

    /// <summary>
    /// A command line that does not parse is a user error like any other: one line on standard error (every problem,
    /// and where the help is), exit 1, nothing on standard output. Null when it parsed.
    /// </summary>
    public static int? RefuseParseErrors(ParseResult parsed, TextWriter error)
    {
        if (parsed.Errors.Count == 0) return null;
        var names = new Stack<string>();
        for (System.CommandLine.Parsing.SymbolResult? r = parsed.CommandResult; r is not null; r = r.Parent)
            if (r is System.CommandLine.Parsing.CommandResult c) names.Push(c.Command.Name);
        var problems = string.Join("; ", parsed.Errors.Select(e => e.Message.TrimEnd('.')).Distinct());
        error.WriteLine($"error: {problems} (see {string.Join(" ", names)} --help)");
        return 1;
    }
}
