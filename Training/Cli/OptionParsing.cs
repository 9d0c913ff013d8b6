using System.Globalization;
using Pipeline.Shared.Errors;

/// <summary>Option values with a small syntax of their own.</summary>
static class OptionParsing
{
    /// <summary>A name of <typeparamref name="T"/>'s values, in any case (numbers are not names).</summary>
    public static T Named<T>(string text, string option) where T : struct, Enum
    {
        if (!text.Any(char.IsDigit) && Enum.TryParse<T>(text, ignoreCase: true, out var value) && Enum.IsDefined(value)) return value;
        var names = Enum.GetNames<T>();
        throw new InvalidOptionException($"{option} must be {string.Join(", ", names[..^1])} or {names[^1]}, not '{text}'");
    }

    /// <summary>Comma-separated positive layer widths, such as <c>512,256,128</c>; <paramref name="example"/> is the one the error shows (the option's default).</summary>
    public static int[] Widths(string text, string option, string example)
    {
        try
        {
            var widths = text.Split(',').Select(w => int.Parse(w.Trim(), CultureInfo.InvariantCulture)).ToArray();
            if (widths.All(w => w > 0)) return widths;
        }
        catch (FormatException) { }
        catch (OverflowException) { }
        throw new InvalidOptionException($"{option} takes comma-separated positive widths such as {example}, not '{text}'");
    }

    /// <summary>Comma-separated finite numbers, such as <c>-20,-10,0</c>.</summary>
    public static double[] Numbers(string text, string option)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var numbers = new double[parts.Length];
        for (var i = 0; i < parts.Length; i++)
            if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out numbers[i]) || !double.IsFinite(numbers[i]))
                throw new InvalidOptionException($"{option} takes comma-separated numbers such as -20,-10,0, not '{text}'");
        return numbers;
    }
}
