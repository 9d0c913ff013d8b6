using Pipeline.Shared.Arrays;
using Pipeline.Shared.Errors;

namespace Pipeline.Training.Decomposition;

/// <summary>
/// A sparse (rows, columns) matrix in compressed-sparse-row form, for NMF on data that is mostly zeros (term counts,
/// sparse spectrograms): <see cref="Nmf.Fit(SparseMatrix, NmfFitOptions?, IProgress{NmfProgress}?, CancellationToken)"/>
/// never builds the dense matrix.
/// </summary>
public sealed class SparseMatrix
{
    /// <summary>Rows.</summary>
    public int Rows { get; }
    /// <summary>Columns.</summary>
    public int Columns { get; }
    /// <summary>Start of each row's entries (Rows + 1 values).</summary>
    public int[] RowStarts { get; }
    /// <summary>Column of each stored entry, increasing within a row.</summary>
    public int[] ColumnIndices { get; }
    /// <summary>Value of each stored entry.</summary>
    public float[] Values { get; }

    SparseMatrix(int rows, int columns, int[] rowStarts, int[] columnIndices, float[] values) =>
        (Rows, Columns, RowStarts, ColumnIndices, Values) = (rows, columns, rowStarts, columnIndices, values);

    /// <summary>Stored entries.</summary>
    public int NonZeros => Values.Length;

    /// <summary>From coordinate (COO) triplets; repeated coordinates are summed, as scipy does.</summary>
    public static SparseMatrix FromCoordinates(int rows, int columns, IReadOnlyList<int> rowIndex, IReadOnlyList<int> columnIndex, IReadOnlyList<float> values)
    {
        if (rows < 1 || columns < 1) throw new InvalidInputException($"a sparse matrix needs positive dimensions, got ({rows}, {columns})");
        if (rowIndex.Count != columnIndex.Count || rowIndex.Count != values.Count)
            throw new InvalidInputException($"COO arrays differ in length ({rowIndex.Count}, {columnIndex.Count}, {values.Count})");
        var merged = new SortedDictionary<(int, int), float>();
        for (var i = 0; i < values.Count; i++)
        {
            var (r, c, v) = (rowIndex[i], columnIndex[i], values[i]);
            if ((uint)r >= (uint)rows || (uint)c >= (uint)columns)
                throw new InvalidInputException($"entry {i} at ({r}, {c}) lies outside ({rows}, {columns})");
            if (!float.IsFinite(v)) throw new InvalidInputException($"entry {i} at ({r}, {c}) is {v}");
            merged[(r, c)] = merged.GetValueOrDefault((r, c)) + v;
        }
        var starts = new int[rows + 1];
        var cols = new int[merged.Count];
        var vals = new float[merged.Count];
        var at = 0;
        foreach (var ((r, c), v) in merged)
        {
            starts[r + 1]++;
            cols[at] = c;
            vals[at++] = v;
        }
        for (var r = 0; r < rows; r++) starts[r + 1] += starts[r];
        return new SparseMatrix(rows, columns, starts, cols, vals);
    }

    /// <summary>
    /// From compressed-sparse-row arrays (scipy's <c>indptr</c>, <c>indices</c>, <c>data</c>), checked and copied:
    /// row starts non-decreasing from 0 to the entry count, columns in range and increasing within each row.
    /// </summary>
    public static SparseMatrix FromCsr(int rows, int columns, IReadOnlyList<int> rowStarts, IReadOnlyList<int> columnIndices, IReadOnlyList<float> values)
    {
        if (rows < 1 || columns < 1) throw new InvalidInputException($"a sparse matrix needs positive dimensions, got ({rows}, {columns})");
        if (rowStarts.Count != rows + 1) throw new InvalidInputException($"CSR row starts need {rows + 1} values (rows + 1), got {rowStarts.Count}");
        if (columnIndices.Count != values.Count) throw new InvalidInputException($"CSR column indices ({columnIndices.Count}) and values ({values.Count}) differ in length");
        if (rowStarts[0] != 0 || rowStarts[rows] != values.Count)
            throw new InvalidInputException($"CSR row starts must run from 0 to {values.Count} (the entry count), got {rowStarts[0]} to {rowStarts[rows]}");
        for (var r = 0; r < rows; r++)
        {
            if (rowStarts[r + 1] < rowStarts[r]) throw new InvalidInputException($"CSR row starts decrease at row {r}");
            for (var p = rowStarts[r]; p < rowStarts[r + 1]; p++)
            {
                var c = columnIndices[p];
                if ((uint)c >= (uint)columns) throw new InvalidInputException($"entry {p} of row {r} has column {c}, outside 0..{columns - 1}");
                if (p > rowStarts[r] && c <= columnIndices[p - 1]) throw new InvalidInputException($"row {r}: columns must increase (entry {p} has column {c} after {columnIndices[p - 1]})");
                if (!float.IsFinite(values[p])) throw new InvalidInputException($"entry {p} at ({r}, {c}) is {values[p]}");
            }
        }
        return new SparseMatrix(rows, columns, [.. rowStarts], [.. columnIndices], [.. values]);
    }

    /// <summary>The non-zero entries of a dense matrix.</summary>
    public static SparseMatrix FromDense(NdArray dense)
    {
        var (r, c, v) = (new List<int>(), new List<int>(), new List<float>());
        for (var i = 0; i < dense.Rows; i++)
            for (var j = 0; j < dense.Columns; j++)
                if (dense[i, j] != 0) { r.Add(i); c.Add(j); v.Add(dense[i, j]); }
        return FromCoordinates(dense.Rows, dense.Columns, r, c, v);
    }

    /// <summary>The dense matrix (for inspection and tests).</summary>
    public NdArray ToDense()
    {
        var dense = NdArray.Zeros(Rows, Columns);
        for (var i = 0; i < Rows; i++)
            for (var p = RowStarts[i]; p < RowStarts[i + 1]; p++) dense[i, ColumnIndices[p]] = Values[p];
        return dense;
    }
}
