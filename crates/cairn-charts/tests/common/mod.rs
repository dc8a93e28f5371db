//! A strict little XML reader for the tests: enough of XML 1.0 to check that a chart is a
//! well-formed standalone document, and to look inside it.

#![allow(dead_code)]

/// An element: its name, attributes (unescaped) and children.
#[derive(Clone, Debug)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Node>,
}

/// A child of an element.
#[derive(Clone, Debug)]
pub enum Node {
    Element(Element),
    Text(String),
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The concatenated text of this element's direct text children.
    pub fn text(&self) -> String {
        self.children
            .iter()
            .filter_map(|c| match c {
                Node::Text(t) => Some(t.as_str()),
                Node::Element(_) => None,
            })
            .collect()
    }

    /// Every element below (and including) this one, depth first.
    pub fn all(&self) -> Vec<&Element> {
        let mut out = vec![self];
        for child in &self.children {
            if let Node::Element(e) = child {
                out.extend(e.all());
            }
        }
        out
    }

    /// Every element named `name`, depth first.
    pub fn find(&self, name: &str) -> Vec<&Element> {
        self.all().into_iter().filter(|e| e.name == name).collect()
    }

    /// The direct child elements.
    pub fn elements(&self) -> Vec<&Element> {
        self.children
            .iter()
            .filter_map(|c| match c {
                Node::Element(e) => Some(e),
                Node::Text(_) => None,
            })
            .collect()
    }
}

/// Parses a document of one root element (comments allowed, no declaration, DTD, CDATA or
/// processing instruction: the charts write none), or says what is wrong and where.
pub fn parse(doc: &str) -> Result<Element, String> {
    for (i, c) in doc.char_indices() {
        let ok = matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{fffe}' && c != '\u{ffff}');
        if !ok {
            return Err(format!("character {:?} not allowed in XML at {i}", c));
        }
    }
    let mut p = Parser { s: doc.as_bytes(), doc, i: 0 };
    p.skip_misc()?;
    let root = p.element()?;
    p.skip_misc()?;
    if p.i != p.s.len() {
        return Err(format!("content after the root element at {}", p.i));
    }
    Ok(root)
}

struct Parser<'a> {
    s: &'a [u8],
    doc: &'a str,
    i: usize,
}

impl Parser<'_> {
    fn err<T>(&self, what: &str) -> Result<T, String> {
        let end = (self.i + 40).min(self.s.len());
        let start = self.i.min(end);
        Err(format!("{what} at {}: {:?}", self.i, String::from_utf8_lossy(&self.s[start..end])))
    }

    fn starts(&self, prefix: &str) -> bool {
        self.s[self.i..].starts_with(prefix.as_bytes())
    }

    fn skip_ws(&mut self) -> bool {
        let start = self.i;
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
        self.i > start
    }

    fn skip_misc(&mut self) -> Result<(), String> {
        loop {
            self.skip_ws();
            if self.starts("<!--") {
                self.comment()?;
            } else {
                return Ok(());
            }
        }
    }

    fn comment(&mut self) -> Result<(), String> {
        match self.doc[self.i + 4..].find("--") {
            Some(at) if self.doc[self.i + 4 + at..].starts_with("-->") => {
                self.i += 4 + at + 3;
                Ok(())
            }
            _ => self.err("bad comment"),
        }
    }

    fn name(&mut self) -> Result<String, String> {
        let start = self.i;
        while self.i < self.s.len() {
            let b = self.s[self.i];
            let ok = b.is_ascii_alphabetic()
                || b == b'_'
                || b == b':'
                || (self.i > start && (b.is_ascii_digit() || b == b'-' || b == b'.'));
            if !ok {
                break;
            }
            self.i += 1;
        }
        if self.i == start {
            return self.err("expected a name");
        }
        Ok(self.doc[start..self.i].to_string())
    }

    fn element(&mut self) -> Result<Element, String> {
        if !self.starts("<") {
            return self.err("expected '<'");
        }
        self.i += 1;
        let name = self.name()?;
        let mut attrs: Vec<(String, String)> = Vec::new();
        loop {
            let had_ws = self.skip_ws();
            if self.starts("/>") {
                self.i += 2;
                return Ok(Element { name, attrs, children: Vec::new() });
            }
            if self.starts(">") {
                self.i += 1;
                break;
            }
            if !had_ws {
                return self.err("expected whitespace before an attribute");
            }
            let attr = self.name()?;
            self.skip_ws();
            if !self.starts("=") {
                return self.err("expected '='");
            }
            self.i += 1;
            self.skip_ws();
            let quote = match self.s.get(self.i) {
                Some(&q @ (b'"' | b'\'')) => q,
                _ => return self.err("expected a quoted value"),
            };
            self.i += 1;
            let start = self.i;
            while self.i < self.s.len() && self.s[self.i] != quote {
                if self.s[self.i] == b'<' {
                    return self.err("'<' in an attribute value");
                }
                self.i += 1;
            }
            if self.i == self.s.len() {
                return self.err("unterminated attribute value");
            }
            let value = unescape(&self.doc[start..self.i]).map_err(|e| format!("{e} in attribute {attr}"))?;
            self.i += 1;
            if attrs.iter().any(|(n, _)| *n == attr) {
                return self.err(&format!("duplicate attribute {attr}"));
            }
            attrs.push((attr, value));
        }
        let mut children = Vec::new();
        loop {
            if self.i >= self.s.len() {
                return self.err(&format!("<{name}> not closed"));
            }
            if self.starts("</") {
                self.i += 2;
                let closing = self.name()?;
                if closing != name {
                    return self.err(&format!("</{closing}> closes <{name}>"));
                }
                self.skip_ws();
                if !self.starts(">") {
                    return self.err("expected '>'");
                }
                self.i += 1;
                return Ok(Element { name, attrs, children });
            }
            if self.starts("<!--") {
                self.comment()?;
            } else if self.starts("<!") || self.starts("<?") {
                return self.err("unexpected markup declaration");
            } else if self.starts("<") {
                children.push(Node::Element(self.element()?));
            } else {
                let start = self.i;
                while self.i < self.s.len() && self.s[self.i] != b'<' {
                    self.i += 1;
                }
                let raw = &self.doc[start..self.i];
                if raw.contains("]]>") {
                    return self.err("']]>' in text");
                }
                children.push(Node::Text(unescape(raw)?));
            }
        }
    }
}

/// Text with its references resolved; an `&` that starts no valid reference is an error.
fn unescape(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let Some(end) = after.find(';') else { return Err(format!("bare '&' in {raw:?}")) };
        let reference = &after[..end];
        let c = match reference {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            r if r.starts_with("#x") => {
                u32::from_str_radix(&r[2..], 16).ok().and_then(char::from_u32).ok_or(format!("bad reference &{r};"))?
            }
            r if r.starts_with('#') => {
                r[1..].parse::<u32>().ok().and_then(char::from_u32).ok_or(format!("bad reference &{r};"))?
            }
            r => return Err(format!("unknown entity &{r};")),
        };
        out.push(c);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Parses a chart and checks what every chart must have: the SVG namespace, a size and a view
/// box matching it, `role="img"`, a `<title>` and a `<desc>` first, no scripts, no external
/// references, no `foreignObject`, no non-finite numbers.
pub fn check_chart(svg: &str) -> Element {
    let root = parse(svg).unwrap_or_else(|e| panic!("not well-formed: {e}\n{svg}"));
    assert_eq!(root.name, "svg");
    assert_eq!(root.attr("xmlns"), Some("http://www.w3.org/2000/svg"));
    let (w, h) = (root.attr("width").expect("width"), root.attr("height").expect("height"));
    assert_eq!(root.attr("viewBox"), Some(format!("0 0 {w} {h}").as_str()));
    assert_eq!(root.attr("role"), Some("img"));
    let first: Vec<&str> = root.elements().iter().take(2).map(|e| e.name.as_str()).collect();
    assert_eq!(first, ["title", "desc"], "title and desc come first");
    for e in root.all() {
        assert!(!["script", "foreignObject", "image", "use", "a"].contains(&e.name.as_str()), "<{}> in {svg}", e.name);
        for (name, value) in &e.attrs {
            assert!(!name.starts_with("on") && !name.contains("href"), "attribute {name} in {svg}");
            assert!(!value.contains("url("), "url() in {svg}");
            for word in ["NaN", "inf"] {
                if name != "font-family" {
                    assert!(!value.contains(word), "{word} in {name}={value:?}");
                }
            }
        }
    }
    root
}
