using System.Xml.Linq;

namespace Pipeline.Tests;

/// <summary>Reading back a page that HtmlReport wrote: the markup as XML, and the bytes behind an embedded data URI.</summary>
public static class ReportPage
{
    const string Doctype = "<!DOCTYPE html>";

    /// <summary>The page without its doctype, parsed as XML (which also checks that it is well-formed).</summary>
    public static XDocument Parse(string html)
    {
        Assert.StartsWith(Doctype, html);
        return XDocument.Parse(html[Doctype.Length..]);
    }

    /// <summary>The bytes of a base64 data URI of the given media type.</summary>
    public static byte[] DataUri(string uri, string mediaType)
    {
        var prefix = $"data:{mediaType};base64,";
        Assert.StartsWith(prefix, uri);
        return Convert.FromBase64String(uri[prefix.Length..]);
    }
}
