using System.Net;
using System.Text;
using Pipeline.Shared.Files;

namespace Pipeline.Training.Reports;

/// <summary>
/// A one-page HTML report that needs nothing but itself: every picture (PNG, animated PNG, SVG) and sound is
/// embedded as a data URI, the style sheet is inline, and nothing is fetched. The markup is well-formed XML, so a
/// test (or a script) can read it with any XML parser. A small inline script counts the images that decoded and
/// writes the count into the page (<c>data-images-loaded</c> on the body), which a headless browser can check.
/// </summary>
public sealed class HtmlReport(string title)
{
    readonly StringBuilder body = new();
    readonly List<(string Id, string Heading)> sections = [];
    bool inGrid;

    /// <summary>Starts a section with a heading and an entry in the table of contents.</summary>
    public HtmlReport Section(string id, string heading, string? introduction = null)
    {
        EndGrid();
        sections.Add((id, heading));
        body.Append($"<h2 id=\"{Text(id)}\">{Text(heading)}</h2>\n");
        if (introduction is not null) Paragraph(introduction);
        return this;
    }

    /// <summary>A sub-heading inside a section.</summary>
    public HtmlReport Heading(string text)
    {
        EndGrid();
        body.Append($"<h3>{Text(text)}</h3>\n");
        return this;
    }

    /// <summary>A paragraph of plain text.</summary>
    public HtmlReport Paragraph(string text)
    {
        EndGrid();
        body.Append($"<p>{Text(text)}</p>\n");
        return this;
    }

    /// <summary>A PNG (or animated PNG) with a caption; figures in a row flow side by side.</summary>
    public HtmlReport Png(string caption, byte[] png) => Figure(caption, "image/png", png);

    /// <summary>An SVG chart with a caption.</summary>
    public HtmlReport Svg(string caption, string svg) => Figure(caption, "image/svg+xml", Encoding.UTF8.GetBytes(svg));

    /// <summary>A WAV file the reader can play.</summary>
    public HtmlReport Audio(string caption, byte[] wav)
    {
        StartGrid();
        body.Append($"<figure><audio controls=\"controls\" src=\"data:audio/wav;base64,{Convert.ToBase64String(wav)}\"></audio><figcaption>{Text(caption)}</figcaption></figure>\n");
        return this;
    }

    HtmlReport Figure(string caption, string mediaType, byte[] content)
    {
        StartGrid();
        body.Append($"<figure><img alt=\"{Text(caption)}\" src=\"data:{mediaType};base64,{Convert.ToBase64String(content)}\"/><figcaption>{Text(caption)}</figcaption></figure>\n");
        return this;
    }

    /// <summary>A table; cells are plain text.</summary>
    public HtmlReport Table(IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows, string? caption = null)
    {
        EndGrid();
        body.Append("<table>");
        if (caption is not null) body.Append($"<caption>{Text(caption)}</caption>");
        body.Append("<thead><tr>");
        foreach (var h in header) body.Append($"<th>{Text(h)}</th>");
        body.Append("</tr></thead><tbody>\n");
        foreach (var row in rows)
        {
            body.Append("<tr>");
            foreach (var cell in row) body.Append($"<td>{Text(cell)}</td>");
            body.Append("</tr>\n");
        }
        body.Append("</tbody></table>\n");
        return this;
    }

    /// <summary>Preformatted text such as commands, optionally folded under a summary line.</summary>
    public HtmlReport Code(string text, string? foldedUnder = null)
    {
        EndGrid();
        if (foldedUnder is not null) body.Append($"<details><summary>{Text(foldedUnder)}</summary>");
        body.Append($"<pre>{Text(text)}</pre>");
        if (foldedUnder is not null) body.Append("</details>");
        body.Append('\n');
        return this;
    }

    void StartGrid()
    {
        if (inGrid) return;
        body.Append("<div class=\"grid\">\n");
        inGrid = true;
    }

    void EndGrid()
    {
        if (!inGrid) return;
        body.Append("</div>\n");
        inGrid = false;
    }

    /// <summary>The whole page.</summary>
    public string Render()
    {
        EndGrid();
        var page = new StringBuilder();
        page.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>");
        page.Append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>");
        page.Append($"<title>{Text(title)}</title><style>{Style}</style></head>\n<body>\n");
        page.Append($"<h1>{Text(title)}</h1>\n<nav><ul>");
        foreach (var (id, heading) in sections) page.Append($"<li><a href=\"#{Text(id)}\">{Text(heading)}</a></li>");
        page.Append("</ul></nav>\n");
        page.Append(body);
        page.Append($"<script>{Script}</script>\n</body></html>\n");
        return page.ToString();
    }

    /// <summary>Writes the page atomically.</summary>
    public void Save(string path) => AtomicFile.WriteAllText(path, Render());

    // one escape serves text and attribute values: HtmlEncode also encodes quotes
    static string Text(string s) => WebUtility.HtmlEncode(s);

    const string Style = """
        body{font-family:system-ui,sans-serif;max-width:1400px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
        h1{border-bottom:2px solid #0072B2}h2{margin-top:2em;border-bottom:1px solid #ccc}
        nav ul{columns:3;list-style:none;padding:0}
        .grid{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}
        figure{margin:0;max-width:660px}figure img{max-width:100%;border:1px solid #ddd}
        figcaption{font-size:.9em;color:#555}
        table{border-collapse:collapse;margin:1em 0}caption{text-align:left;font-weight:600;padding:.3em 0}
        th,td{border:1px solid #ccc;padding:.3em .7em;text-align:right}th{background:#f3f6fa}td:first-child,th:first-child{text-align:left}
        pre{background:#f6f8fa;padding:1em;overflow-x:auto;font-size:.85em}
        """;

    // counts decoded images after load; a headless browser reads the result from the body's attributes
    // (written without '<' and '&', so the page stays well-formed XML)
    const string Script = """
        window.addEventListener('load',function(){var all=document.images,ok=0;for(var i=0;i!==all.length;i++){if(all[i].complete){if(all[i].naturalWidth>0)ok++;}}
        document.body.setAttribute('data-images-loaded',ok);document.body.setAttribute('data-images-total',all.length);});
        """;
}
