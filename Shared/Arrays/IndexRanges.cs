namespace Pipeline.Shared.Arrays;

/// <summary>Index lists in messages, short however long: "3", "0, 4, 7", "0–63", "2, 5–9".</summary>
public static class IndexRanges
{
    /// <summary>The sorted, distinct indices with runs of three or more written as first–last.</summary>
    public static string Format(IEnumerable<int> indices)
    {
        var sorted = indices.Distinct().Order().ToArray();
        var parts = new List<string>();
        for (var i = 0; i < sorted.Length;)
        {
            var j = i;
            while (j + 1 < sorted.Length && sorted[j + 1] == sorted[j] + 1) j++;
            if (j - i >= 2) parts.Add($"{sorted[i]}–{sorted[j]}");
            else for (var k = i; k <= j; k++) parts.Add(sorted[k].ToString(System.Globalization.CultureInfo.InvariantCulture));
            i = j + 1;
        }
        return string.Join(", ", parts);
    }
}
