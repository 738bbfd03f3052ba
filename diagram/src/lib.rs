//! Mermaid sequence diagrams for coordlab's counterexample traces.
//!
//! Every sequence diagram coordlab writes goes through [`SequenceDiagram`]: a model trace
//! (`coordlab show --format mermaid`, the `.md` files under `counterexamples/`) and an
//! implementation's failing shuttle run alike. It declares the participants that take part,
//! in the order given, numbers the steps, spans notes over several participants, breaks
//! long texts into lines with [`label`] so Mermaid draws them whole, and escapes every label
//! and name, so no text a protocol writes can break Mermaid's grammar or be silently cut
//! short.
//!
//! ```
//! use coordlab_diagram::{Arrow, SequenceDiagram};
//!
//! let mut d = SequenceDiagram::new(["Node 0", "Node 1", "LeaseStore", "Storage"]);
//! d.step(1, [
//!     Arrow::call("Node 0", "LeaseStore", "acquire"),
//!     Arrow::reply("LeaseStore", "Node 0", "granted; token #1"),
//! ]);
//! d.step(2, [Arrow::call("Node 1", "LeaseStore", "acquire")]);
//! d.push(Arrow::note(["Node 1", "Node 0"], "two leaders at once: node 0 and node 1"));
//! assert_eq!(
//!     d.render(),
//!     "sequenceDiagram
//!     participant Node0 as Node 0
//!     participant Node1 as Node 1
//!     participant LeaseStore
//!     Node0->>LeaseStore: 1. acquire
//!     LeaseStore-->>Node0: granted#59; token #35;1
//!     Node1->>LeaseStore: 2. acquire
//!     Note over Node0,Node1: two leaders at once:<br/>node 0 and node 1
//! "
//! );
//! ```
//!
//! # What Mermaid treats specially, and what [`escape`] writes instead
//!
//! Established against Mermaid 11's own sequence-diagram lexer, its preprocessing, and its
//! renderer in a browser; `scripts/mermaid-check` runs that parser over every committed
//! diagram and fails when a label is read differently from how it is written.
//!
//! | in a label | what Mermaid 11 does with it | written as |
//! |---|---|---|
//! | `;` | ends the statement; the rest of the line is parsed as a new one (a parse error) | `#59;` |
//! | `#` | starts a comment: the rest of the line is silently dropped | `#35;` |
//! | `%` | `%%{…}%%` anywhere is a directive and silently removed | `#37;` |
//! | `<`, `>` | `<br>` and its variants become line breaks; tags meet the HTML sanitiser | `#lt;`, `#gt;` |
//! | a line break | ends the statement | `<br>`, Mermaid's line break inside a label (the breaks [`label`] makes to shorten a line are `<br/>`) |
//! | another control character | drawn as is, invisibly | a space |
//! | a leading `wrap:`, `nowrap:` or `:` | taken as the wrap option and removed | its colon as `#58;` |
//! | `{`, `}`, `&`, `"`, `,`, any other `:` | plain text inside a message or note | unchanged |
//!
//! Mermaid turns the entity codes (`#59;`, `#lt;`) back into the characters when it draws
//! the diagram. A `&` needs no escape: an HTML entity would need a `;`.
//!
//! Participant names may hold spaces and any character. Each participant gets an id made of
//! ASCII letters, digits and `_`, not starting with a digit and not one of Mermaid's
//! keywords (`end`, `note`, `box`, …), and is declared `participant <id> as <name>` when the
//! id differs from the name; the name is escaped like a label, and `,`, `:` and `@` (which
//! end an alias) as entity codes too.
//!
//! # Long texts
//!
//! Mermaid 11, in its default configuration, draws a message or a note on one line however
//! long it is, and does not always make room for that line (participant boxes are 150 px
//! wide, their centres at least 200 px apart):
//!
//! - A note over two or more participants is drawn exactly as wide as the span between the
//!   outer ones, plus 25 px on each side; Mermaid widens the gaps by only half the note's
//!   text, so a long note runs past both sides of its box, and past the diagram's edge,
//!   where it is cut off.
//! - A message between neighbouring participants gets room for its text and 35 px to spare
//!   on each side, but a message that passes over other participants gets none: it runs
//!   past its lifelines when the gaps are narrower than its text.
//! - A note over one participant gets its text's width and 10 px to spare on each side.
//!   But Mermaid measures text in the page's font and draws it in its own: its default
//!   `fontFamily` ends in `;`, which makes the font of the text it measures invalid, so
//!   it inherits the page's. In a page whose font is narrower (a browser's default serif)
//!   a line of more than about 30 characters outgrows those 10 px.
//!
//! So [`SequenceDiagram::render`] breaks every text into lines with [`label`]: at most
//! [`NARROW_LINE_WIDTH`] (30) characters for a note over one participant, which keeps its
//! 10 px, and for a note over two neighbouring ones, at least 250 px wide; at most
//! [`LINE_WIDTH`] (40) for a message, and for a note over three participants or more, at
//! least 450 px wide. Lines break at spaces, as
//! `<br/>`, which Mermaid draws as a line break in messages and notes; they are as even as
//! their number allows; a number stays on the line of the word before it (`node 0`,
//! `token 1`), and a word longer than a line stays whole. Nothing else about a text
//! changes.
//!
//! Mermaid's own wrapping is no substitute. `wrap` (set for every text by an `init`
//! directive, which a page may not honour, or for one text by a leading `wrap:`) breaks a
//! text to fit the room Mermaid already allotted to it instead of making room: a message to
//! the distance between its lifelines, a note over one participant to 150 px; it measures
//! in the page's font as above; and it leaves a text that already holds a line break on
//! one line.
//!
//! `scripts/mermaid-check` parses every committed diagram with Mermaid; the browser suite
//! in `checks/tests/browser/` draws each in chromium and fails when a text runs out of its
//! box or out of the diagram.
//!
//! # Limits
//! Only what traces need: solid and dashed arrows and notes, no activations, loops or
//! boxes. The escaping was established against Mermaid 11 (the version
//! `scripts/mermaid-check/package-lock.json` pins); another major version may read labels
//! differently, which that check would report.

use std::fmt::Write as _;

/// One element of a sequence diagram: an arrow between participants, or a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Arrow {
    /// A request or message from one participant to another; drawn solid.
    Call {
        from: String,
        to: String,
        label: String,
    },
    /// A reply; drawn dashed.
    Reply {
        from: String,
        to: String,
        label: String,
    },
    /// Something that happens at some participants: the note spans from the leftmost of
    /// them to the rightmost. With none, it spans every participant shown.
    Note { over: Vec<String>, text: String },
}

impl Arrow {
    pub fn call(from: impl Into<String>, to: impl Into<String>, label: impl Into<String>) -> Self {
        Arrow::Call {
            from: from.into(),
            to: to.into(),
            label: label.into(),
        }
    }

    pub fn reply(from: impl Into<String>, to: impl Into<String>, label: impl Into<String>) -> Self {
        Arrow::Reply {
            from: from.into(),
            to: to.into(),
            label: label.into(),
        }
    }

    /// A note over the participants in `over` (one, several, or none for all of them).
    pub fn note<S: Into<String>>(
        over: impl IntoIterator<Item = S>,
        text: impl Into<String>,
    ) -> Self {
        Arrow::Note {
            over: over.into_iter().map(Into::into).collect(),
            text: text.into(),
        }
    }

    /// The participants this element involves.
    pub fn participants(&self) -> Vec<&str> {
        match self {
            Arrow::Call { from, to, .. } | Arrow::Reply { from, to, .. } => vec![from, to],
            Arrow::Note { over, .. } => over.iter().map(String::as_str).collect(),
        }
    }

    fn text_mut(&mut self) -> &mut String {
        match self {
            Arrow::Call { label, .. } | Arrow::Reply { label, .. } => label,
            Arrow::Note { text, .. } => text,
        }
    }
}

/// A Mermaid `sequenceDiagram` under construction.
///
/// Participants are named by their display names everywhere; [`SequenceDiagram::render`]
/// declares those that take part (appear in an arrow or a note), in the order given to
/// [`SequenceDiagram::new`], then any others in the order they first appear.
#[derive(Clone, Debug, Default)]
pub struct SequenceDiagram {
    participants: Vec<String>,
    elements: Vec<Arrow>,
}

impl SequenceDiagram {
    /// A diagram whose participants, when they take part, are shown in this order.
    pub fn new<S: Into<String>>(participants: impl IntoIterator<Item = S>) -> Self {
        SequenceDiagram {
            participants: participants.into_iter().map(Into::into).collect(),
            elements: Vec::new(),
        }
    }

    /// Adds one element.
    pub fn push(&mut self, arrow: Arrow) -> &mut Self {
        self.elements.push(arrow);
        self
    }

    /// Adds the elements of step `n` of a trace; the first one's text starts with `n. `.
    pub fn step(&mut self, n: usize, arrows: impl IntoIterator<Item = Arrow>) -> &mut Self {
        for (k, mut arrow) in arrows.into_iter().enumerate() {
            if k == 0 {
                let text = arrow.text_mut();
                *text = format!("{n}. {text}");
            }
            self.elements.push(arrow);
        }
        self
    }

    /// Whether the diagram has no element yet.
    pub fn is_empty(&self) -> bool {
        self.elements.is_empty()
    }

    /// The participants shown: those that take part, in the order given, then any others
    /// in order of appearance. If none takes part, every participant given.
    fn shown(&self) -> Vec<&str> {
        let used = |p: &str| self.elements.iter().any(|a| a.participants().contains(&p));
        let mut shown: Vec<&str> = Vec::new();
        let declared = self.participants.iter().map(String::as_str);
        for p in declared.clone().filter(|p| used(p)) {
            if !shown.contains(&p) {
                shown.push(p);
            }
        }
        for p in self.elements.iter().flat_map(Arrow::participants) {
            if !shown.contains(&p) {
                shown.push(p);
            }
        }
        if shown.is_empty() {
            for p in declared {
                if !shown.contains(&p) {
                    shown.push(p);
                }
            }
        }
        shown
    }

    /// The Mermaid source, starting `sequenceDiagram` and ending with a line break. A note
    /// over every participant in a diagram that has none is left out: there is nothing to
    /// draw it over.
    pub fn render(&self) -> String {
        let shown = self.shown();
        let mut ids: Vec<String> = Vec::with_capacity(shown.len());
        for name in &shown {
            let id = participant_id(name, &ids);
            ids.push(id);
        }
        let id = |name: &str| -> &str {
            let i = shown
                .iter()
                .position(|p| *p == name)
                .expect("every participant is shown");
            &ids[i]
        };
        let mut out = String::from("sequenceDiagram\n");
        for (name, id) in shown.iter().zip(&ids) {
            if id == name || name.trim().is_empty() {
                let _ = writeln!(out, "    participant {id}");
            } else {
                let _ = writeln!(out, "    participant {id} as {}", escape_name(name));
            }
        }
        for element in &self.elements {
            match element {
                Arrow::Call {
                    from,
                    to,
                    label: text,
                } => {
                    let text = label(text, LINE_WIDTH);
                    let _ = writeln!(out, "    {}->>{}: {text}", id(from), id(to));
                }
                Arrow::Reply {
                    from,
                    to,
                    label: text,
                } => {
                    let text = label(text, LINE_WIDTH);
                    let _ = writeln!(out, "    {}-->>{}: {text}", id(from), id(to));
                }
                Arrow::Note { over, text } => {
                    let positions: Vec<usize> = if over.is_empty() {
                        (0..shown.len()).collect()
                    } else {
                        over.iter()
                            .filter_map(|p| shown.iter().position(|s| s == p))
                            .collect()
                    };
                    let (Some(&left), Some(&right)) =
                        (positions.iter().min(), positions.iter().max())
                    else {
                        continue;
                    };
                    let span = if left == right {
                        ids[left].clone()
                    } else {
                        format!("{},{}", ids[left], ids[right])
                    };
                    let width = if right - left >= 2 {
                        LINE_WIDTH
                    } else {
                        NARROW_LINE_WIDTH
                    };
                    let _ = writeln!(out, "    Note over {span}: {}", label(text, width));
                }
            }
        }
        out
    }
}

/// Mermaid's sequence-diagram keywords (compared without case): none may be an id.
const KEYWORDS: &[&str] = &[
    "accdescr",
    "acctitle",
    "activate",
    "actor",
    "alt",
    "and",
    "as",
    "autonumber",
    "box",
    "break",
    "create",
    "critical",
    "deactivate",
    "destroy",
    "details",
    "else",
    "end",
    "left",
    "link",
    "links",
    "loop",
    "note",
    "off",
    "opt",
    "option",
    "over",
    "par",
    "par_over",
    "participant",
    "properties",
    "rect",
    "right",
    "sequencediagram",
    "title",
];

/// A Mermaid id for participant `name`: its ASCII letters, digits and `_`, never empty,
/// never starting with a digit, never a keyword, never one of `taken`.
pub fn participant_id(name: &str, taken: &[String]) -> String {
    let mut id: String = name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    if id.is_empty() || id.starts_with(|c: char| c.is_ascii_digit()) {
        id.insert(0, 'P');
    }
    if KEYWORDS.contains(&id.to_ascii_lowercase().as_str()) {
        id.push('_');
    }
    if !taken.contains(&id) {
        return id;
    }
    (2..)
        .map(|k| format!("{id}_{k}"))
        .find(|candidate| !taken.contains(candidate))
        .expect("some suffix is free")
}

/// Characters a line of a message, or of a note over three or more participants, holds at
/// most (see "Long texts" in the crate docs).
pub const LINE_WIDTH: usize = 40;

/// Characters a line of a note over one participant or two neighbouring ones holds at most
/// (see "Long texts" in the crate docs).
pub const NARROW_LINE_WIDTH: usize = 30;

/// `text` as the label of a Mermaid sequence-diagram message or note, on lines of at most
/// `width` characters: broken at spaces with `<br/>`, each space broken at replaced by the
/// break, lines as even as their number allows, never before a word that starts with a
/// digit or before another space; a word (with the numbers after it) longer than `width`
/// stays whole on its own line. Otherwise as [`escape`]: the text's own line breaks as `<br>`, and nothing else in
/// it can end the statement, break a line, start a comment or a directive, or set an
/// option. `width` is counted in characters (Unicode scalar values) of the text as drawn.
pub fn label(text: &str, width: usize) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for (i, line) in text_lines(text).into_iter().enumerate() {
        if i > 0 {
            out.push_str("<br>");
        }
        for (j, piece) in wrap(line, width).into_iter().enumerate() {
            if j > 0 {
                out.push_str("<br/>");
            }
            escape_chars(piece, &mut out);
        }
    }
    // Mermaid trims a label, then takes a leading `wrap:`, `nowrap:` or `:` as an option.
    let start = out.len() - out.trim_start().len();
    let rest = &out[start..];
    let colon = if rest.starts_with(':') {
        Some(start)
    } else {
        ["wrap:", "nowrap:"]
            .iter()
            .find(|p| {
                rest.get(..p.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(p))
            })
            .map(|p| start + p.len() - 1)
    };
    if let Some(i) = colon {
        out.replace_range(i..=i, "#58;");
    }
    out
}

/// `text` as the label of a Mermaid sequence-diagram message or note, unbroken: it reads as
/// written once drawn, and nothing in it can end the statement, start a comment or a
/// directive, or set an option (see the table in the crate docs). [`label`] with no limit
/// on a line's length.
pub fn escape(text: &str) -> String {
    label(text, usize::MAX)
}

/// Writes `text` to `out` with every character Mermaid treats specially as its entity
/// code, and control characters as spaces; `text` holds no line break.
fn escape_chars(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            ';' => out.push_str("#59;"),
            '#' => out.push_str("#35;"),
            '%' => out.push_str("#37;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
}

/// The lines of `text`, split at `\r\n`, `\r`, `\n`, U+2028 and U+2029.
fn text_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(['\r', '\n', '\u{2028}', '\u{2029}']) {
        lines.push(&rest[..i]);
        let c = rest[i..].chars().next().unwrap_or('\n');
        let mut next = i + c.len_utf8();
        if c == '\r' && rest[next..].starts_with('\n') {
            next += 1;
        }
        rest = &rest[next..];
    }
    lines.push(rest);
    lines
}

/// `line` broken at spaces into as few pieces of at most `width` characters as filling
/// each piece in turn gives, then evened out: the narrowest width that needs no more
/// pieces. The spaces broken at are left out of the pieces.
fn wrap(line: &str, width: usize) -> Vec<&str> {
    let units = units(line);
    let pieces = fill(line, &units, width);
    if pieces.len() < 2 {
        return pieces;
    }
    let longest = units.iter().map(|u| u.chars).max().unwrap_or(0);
    (longest.min(width)..width)
        .map(|w| fill(line, &units, w))
        .find(|p| p.len() == pieces.len())
        .unwrap_or(pieces)
}

/// What a line may break between: a run of words that stays on one line.
struct Unit {
    /// Where it starts and ends in the line, in bytes.
    start: usize,
    end: usize,
    /// Its length, in characters.
    chars: usize,
}

/// `line` cut at the spaces a line may break at: those before a word that is not empty
/// and does not start with a digit. A number stays with the word before it (`node 0`,
/// `token 1`, `steps 6–10`), and runs of spaces stay inside a unit, so no piece of a
/// broken line is empty or starts with a space.
fn units(line: &str) -> Vec<Unit> {
    let mut units: Vec<Unit> = Vec::new();
    let mut at = 0;
    for word in line.split(' ') {
        let chars = word.chars().count();
        let glued = word.is_empty() || word.starts_with(|c: char| c.is_ascii_digit());
        match units.last_mut() {
            Some(unit) if glued || !line[unit.start..unit.end].contains(|c| c != ' ') => {
                unit.end = at + word.len();
                unit.chars += 1 + chars;
            }
            _ => units.push(Unit {
                start: at,
                end: at + word.len(),
                chars,
            }),
        }
        at += word.len() + 1;
    }
    units
}

/// `line` broken between `units`, each piece filled with as many units as fit in `width`
/// characters; a unit longer than `width` is a piece of its own.
fn fill<'a>(line: &'a str, units: &[Unit], width: usize) -> Vec<&'a str> {
    let mut pieces = Vec::new();
    let Some(first) = units.first() else {
        return vec![line];
    };
    let (mut start, mut chars) = (first.start, first.chars);
    for unit in &units[1..] {
        if chars + 1 + unit.chars > width {
            pieces.push(&line[start..unit.start - 1]);
            start = unit.start;
            chars = unit.chars;
        } else {
            chars += 1 + unit.chars;
        }
    }
    pieces.push(&line[start..]);
    pieces
}

/// A participant's name as a Mermaid alias: on one line (an alias cannot hold Mermaid's
/// `<br>`), escaped like a label, and `,`, `:` and `@`, which end an alias, as entity codes
/// too.
fn escape_name(name: &str) -> String {
    let one_line: String = name
        .chars()
        .map(|c| {
            if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
                ' '
            } else {
                c
            }
        })
        .collect();
    escape(&one_line)
        .replace(',', "#44;")
        .replace(':', "#58;")
        .replace('@', "#64;")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Undoes [`label`]: Mermaid's reading of a label, as the text it draws, with the
    /// text's own line breaks (`<br>`) as line breaks and the breaks [`label`] made
    /// (`<br/>`) as the spaces they replaced.
    fn drawn(label: &str) -> String {
        let mut out = String::new();
        let mut rest = label;
        while let Some(i) = rest.find(['#', '<']) {
            out.push_str(&rest[..i]);
            rest = &rest[i..];
            if let Some(after) = rest.strip_prefix("<br>") {
                out.push('\n');
                rest = after;
                continue;
            }
            if let Some(after) = rest.strip_prefix("<br/>") {
                out.push(' ');
                rest = after;
                continue;
            }
            let end = rest.find(';').expect("an entity code ends with `;`");
            out.push(match &rest[1..end] {
                "59" => ';',
                "35" => '#',
                "37" => '%',
                "58" => ':',
                "44" => ',',
                "64" => '@',
                "lt" => '<',
                "gt" => '>',
                other => panic!("unexpected entity code #{other};"),
            });
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// The text as Mermaid should draw it: line breaks as breaks, other control
    /// characters as spaces.
    fn visible(text: &str) -> String {
        text.replace("\r\n", "\n")
            .chars()
            .map(|c| match c {
                '\r' | '\u{2028}' | '\u{2029}' => '\n',
                c if c.is_control() && c != '\n' => ' ',
                c => c,
            })
            .collect()
    }

    /// Every `#` and `;` of a label belongs to an entity code `#…;` of word characters.
    fn only_entity_codes(label: &str) -> bool {
        let mut rest = label;
        loop {
            let Some(i) = rest.find(['#', ';']) else {
                return true;
            };
            if rest.as_bytes()[i] == b';' {
                return false;
            }
            let after = &rest[i + 1..];
            let Some(end) = after.find(';') else {
                return false;
            };
            let code = &after[..end];
            if code.is_empty() || !code.chars().all(|c| c.is_ascii_alphanumeric()) {
                return false;
            }
            rest = &after[end + 1..];
        }
    }

    proptest! {
        /// Whatever a protocol writes, its label stays on one line, every `;` and `#` in
        /// it is part of an entity code, nothing in it starts a directive or an HTML tag
        /// other than Mermaid's line break, and it reads back as the text itself.
        #[test]
        fn any_text_escapes_to_one_safe_line(text in any::<String>()) {
            let label = escape(&text);
            prop_assert!(!label.contains(['\n', '\r', '\u{2028}', '\u{2029}']), "{label:?}");
            prop_assert!(!label.chars().any(char::is_control), "{label:?}");
            prop_assert!(only_entity_codes(&label), "{label:?}");
            prop_assert!(!label.contains('%'), "{label:?}");
            prop_assert!(!label.replace("<br>", "").contains(['<', '>']), "{label:?}");
            let head = label.trim_start().to_ascii_lowercase();
            prop_assert!(!head.starts_with(':') && !head.starts_with("wrap:") && !head.starts_with("nowrap:"), "{label:?}");
            prop_assert_eq!(drawn(&label), visible(&text));
        }

        /// The same for the characters Mermaid treats specially, which arbitrary strings
        /// rarely combine.
        #[test]
        fn mermaid_syntax_escapes_to_one_safe_line(
            text in "[;#%<>:{}&,@ \n\r\ta-z0-9]{0,24}|(no)?wrap:[;# a-z]{0,8}|:[:a-z]{0,8}"
        ) {
            let label = escape(&text);
            prop_assert!(!label.contains(['\n', '\r']), "{label:?}");
            prop_assert!(only_entity_codes(&label), "{label:?}");
            prop_assert!(!label.replace("<br>", "").contains(['<', '>', '%']), "{label:?}");
            let head = label.trim_start().to_ascii_lowercase();
            prop_assert!(!head.starts_with(':') && !head.starts_with("wrap:") && !head.starts_with("nowrap:"), "{label:?}");
            prop_assert_eq!(drawn(&label), visible(&text));
        }

        /// Broken into lines, any text still reads back as itself, safely; every line is
        /// at most `width` characters long unless it is one word; no break starts or ends
        /// the label or follows another.
        #[test]
        fn any_text_breaks_into_short_safe_lines(
            text in "[ a-z;#<>:\n]{0,12}( [a-z]{0,12}){0,12}|[ a-z]{0,80}|\\PC{0,60}",
            width in 1usize..50,
        ) {
            let label = label(&text, width);
            prop_assert!(!label.contains(['\n', '\r', '\u{2028}', '\u{2029}']), "{label:?}");
            prop_assert!(!label.chars().any(char::is_control), "{label:?}");
            prop_assert!(only_entity_codes(&label), "{label:?}");
            prop_assert!(!label.replace("<br/>", "").replace("<br>", "").contains(['<', '>', '%']), "{label:?}");
            let head = label.trim_start().to_ascii_lowercase();
            prop_assert!(!head.starts_with(':') && !head.starts_with("wrap:") && !head.starts_with("nowrap:"), "{label:?}");
            prop_assert!(!label.starts_with("<br/>") && !label.ends_with("<br/>"), "{label:?}");
            prop_assert!(!label.contains("<br/><br") && !label.contains("<br><br/>"), "{label:?}");
            prop_assert_eq!(drawn(&label), visible(&text));
            for own_line in label.split("<br>") {
                for (k, line) in own_line.split("<br/>").enumerate() {
                    // Spaces at the end of a line are not drawn; a line may break before
                    // a word that does not start with a digit, and not before a space.
                    let line = drawn(line);
                    let breakable = line
                        .trim()
                        .split(' ')
                        .skip(1)
                        .filter(|w| !w.is_empty() && !w.starts_with(|c: char| c.is_ascii_digit()))
                        .count();
                    prop_assert!(line.trim_end().chars().count() <= width || breakable == 0, "{line:?} in {label:?}");
                    prop_assert!(k == 0 || !line.starts_with(' '), "{line:?} in {label:?}");
                }
            }
        }

        /// Any name becomes an id Mermaid reads as one participant, and an alias that
        /// reads back as the name.
        #[test]
        fn any_name_gets_a_safe_id_and_alias(name in any::<String>(), taken in proptest::collection::vec("[A-Za-z0-9_]{0,4}", 0..4)) {
            let id = participant_id(&name, &taken);
            prop_assert!(!id.is_empty());
            prop_assert!(id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'), "{id}");
            prop_assert!(!id.starts_with(|c: char| c.is_ascii_digit()), "{id}");
            prop_assert!(!KEYWORDS.contains(&id.to_ascii_lowercase().as_str()), "{id}");
            prop_assert!(!taken.contains(&id), "{id}");
            let alias = escape_name(&name);
            prop_assert!(only_entity_codes(&alias), "{alias:?}");
            prop_assert!(!alias.contains([',', ':', '@', '<', '>', '%']), "{alias:?}");
            prop_assert!(!alias.chars().any(char::is_control), "{alias:?}");
            let one_line: String = name
                .chars()
                .map(|c| if c.is_control() || c == '\u{2028}' || c == '\u{2029}' { ' ' } else { c })
                .collect();
            prop_assert_eq!(drawn(&alias), one_line);
        }
    }

    #[test]
    fn the_split_brain_note_escapes_its_semicolon() {
        assert_eq!(
            escape("real time 30ms (+10); n2 falls a tick behind"),
            "real time 30ms (+10)#59; n2 falls a tick behind"
        );
        assert_eq!(escape("delivery #2"), "delivery #35;2");
        assert_eq!(escape("100% <b>"), "100#37; #lt;b#gt;");
        assert_eq!(escape("two\nlines"), "two<br>lines");
        assert_eq!(escape("  wrap: it"), "  wrap#58; it");
        assert_eq!(escape(":x: y"), "#58;x: y");
        assert_eq!(
            escape("granted, token 2: {ok} & done"),
            "granted, token 2: {ok} & done"
        );
    }

    #[test]
    fn long_texts_break_at_spaces_into_even_lines() {
        // Filling each line in turn would leave `clock` alone on the second line.
        assert_eq!(
            label("4. leads with token 1, trusts until 30ms on its clock", 40),
            "4. leads with token 1, trusts<br/>until 30ms on its clock"
        );
        assert_eq!(
            label(
                "AtMostOneLeader violated: two leaders at once: node 0 with token 1 (its clock says 3 ticks left) and node 1 with token 1 (its clock says 3 ticks left)",
                30
            ),
            "AtMostOneLeader violated:<br/>two leaders at once: node 0<br/>with token 1 (its clock<br/>says 3 ticks left) and<br/>node 1 with token 1 (its<br/>clock says 3 ticks left)"
        );
        // Short enough: unchanged. A word longer than a line stays whole.
        assert_eq!(label("m0, delivery 1", 30), "m0, delivery 1");
        assert_eq!(label("a counterexample", 5), "a<br/>counterexample");
        // Runs of spaces stay; the text's own breaks stay as `<br>`; escaping as ever.
        assert_eq!(label("  a  b", 2), "  a <br/>b");
        assert_eq!(label("one two\nthree four", 8), "one two<br>three<br/>four");
        assert_eq!(label("wrap: a; b #2", 4), "wrap#58;<br/>a#59; b<br/>#35;2");
        assert_eq!(label("", 3), "");
    }

    #[test]
    fn messages_and_notes_break_by_how_wide_mermaid_draws_them() {
        let long = "the quick brown fox jumps over the lazy dog, again and again, \
                    until the dog wakes up and the fox runs";
        let mut d = SequenceDiagram::new(["A", "B", "C"]);
        d.push(Arrow::call("A", "C", long));
        d.push(Arrow::note(["A"], long));
        d.push(Arrow::note(["A", "B"], long));
        d.push(Arrow::note(["C", "A"], long));
        d.push(Arrow::note(Vec::<String>::new(), long));
        let wide = label(long, LINE_WIDTH);
        let narrow = label(long, NARROW_LINE_WIDTH);
        assert_ne!(wide, narrow);
        assert_eq!(
            d.render(),
            format!(
                "sequenceDiagram
    participant A
    participant B
    participant C
    A->>C: {wide}
    Note over A: {narrow}
    Note over A,B: {narrow}
    Note over A,C: {wide}
    Note over A,C: {wide}
"
            )
        );
    }

    #[test]
    fn keywords_and_odd_names_get_ids_of_their_own() {
        let none: Vec<String> = Vec::new();
        assert_eq!(participant_id("end", &none), "end_");
        assert_eq!(participant_id("Note", &none), "Note_");
        assert_eq!(participant_id("lease store", &none), "leasestore");
        assert_eq!(participant_id("0", &none), "P0");
        assert_eq!(participant_id("λ", &none), "P");
        assert_eq!(
            participant_id("Node 0", &["Node0".to_string(), "Node0_2".to_string()]),
            "Node0_3"
        );
    }

    #[test]
    fn only_participants_that_take_part_are_declared_in_the_given_order() {
        let mut d = SequenceDiagram::new(["a b", "end", "c", "unused"]);
        d.push(Arrow::call("c", "end", "x"));
        d.push(Arrow::reply("end", "a b", "y"));
        d.push(Arrow::note(["late"], "z"));
        d.push(Arrow::note(Vec::<String>::new(), "across"));
        assert_eq!(
            d.render(),
            "sequenceDiagram
    participant ab as a b
    participant end_ as end
    participant c
    participant late
    c->>end_: x
    end_-->>ab: y
    Note over late: z
    Note over ab,late: across
"
        );
    }

    #[test]
    fn a_note_across_an_empty_diagram_is_left_out() {
        let mut d = SequenceDiagram::new(Vec::<String>::new());
        d.push(Arrow::note(Vec::<String>::new(), "nothing to span"));
        assert_eq!(d.render(), "sequenceDiagram\n");
        let mut d = SequenceDiagram::new(["Graph"]);
        d.push(Arrow::note(Vec::<String>::new(), "all"));
        assert_eq!(
            d.render(),
            "sequenceDiagram\n    participant Graph\n    Note over Graph: all\n"
        );
    }
}
