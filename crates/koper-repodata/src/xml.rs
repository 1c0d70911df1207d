//! Minimal, fast XML escaping for the rpm-md files, which are written by
//! hand rather than through a DOM: they are large and their shape is fixed.

/// Characters that XML 1.0 does not allow at all; libxml2 would refuse a
/// document holding them, so they are dropped.
fn is_forbidden(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

/// Appends `s` as element text.
pub(crate) fn text(out: &mut String, s: &str) {
    if !s.bytes().any(|b| {
        matches!(b, b'&' | b'<' | b'>')
            || (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
            || b == 0xef
    }) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c if is_forbidden(c) => {}
            c => out.push(c),
        }
    }
}

/// Appends `s` as an attribute value (inside double quotes).
pub(crate) fn attr(out: &mut String, s: &str) {
    if !s
        .bytes()
        .any(|b| matches!(b, b'&' | b'<' | b'>' | b'"') || b < 0x20 || b == 0xef)
    {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if is_forbidden(c) => {}
            c => out.push(c),
        }
    }
}

/// Appends ` name="value"`.
pub(crate) fn push_attr(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    out.push_str(name);
    out.push_str("=\"");
    attr(out, value);
    out.push('"');
}

/// Appends `<name>text</name>` on its own line with `indent`.
pub(crate) fn element(out: &mut String, indent: &str, name: &str, value: &str) {
    out.push_str(indent);
    out.push('<');
    out.push_str(name);
    out.push('>');
    text(out, value);
    out.push_str("</");
    out.push_str(name);
    out.push_str(">\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_drops_forbidden_characters() {
        let mut out = String::new();
        text(&mut out, "a & b <c> \"d\"\u{1}\n\u{fffe}é");
        assert_eq!(out, "a &amp; b &lt;c&gt; \"d\"\né");
        let mut out = String::new();
        attr(&mut out, "a&\"b\"\n\tc");
        assert_eq!(out, "a&amp;&quot;b&quot;&#10;&#9;c");
    }
}
