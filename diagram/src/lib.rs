//! Mermaid sequence diagrams for coordlab's counterexample traces.
//!
//! Every sequence diagram coordlab writes goes through [`SequenceDiagram`]: a model trace
//! (`coordlab show --format mermaid`, the `.md` files under `counterexamples/`) and an
//! implementation's failing shuttle run alike. It declares the participants that take part,
//! in the order given, numbers the steps, spans notes over several participants, and
//! escapes every label and name with [`escape`], so no text a protocol writes can break
//! Mermaid's grammar or be silently cut short.
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
//! d.push(Arrow::note(["Node 1", "Node 0"], "two leaders"));
//! assert_eq!(
//!     d.render(),
//!     "sequenceDiagram
//!     participant Node0 as Node 0
//!     participant Node1 as Node 1
//!     participant LeaseStore
//!     Node0->>LeaseStore: 1. acquire
//!     LeaseStore-->>Node0: granted#59; token #35;1
//!     Node1->>LeaseStore: 2. acquire
//!     Note over Node0,Node1: two leaders
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
//! | a line break | ends the statement | `<br>`, Mermaid's line break inside a label |
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
                Arrow::Call { from, to, label } => {
                    let _ = writeln!(out, "    {}->>{}: {}", id(from), id(to), escape(label));
                }
                Arrow::Reply { from, to, label } => {
                    let _ = writeln!(out, "    {}-->>{}: {}", id(from), id(to), escape(label));
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
                    let _ = writeln!(out, "    Note over {span}: {}", escape(text));
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

/// `text` as the label of a Mermaid sequence-diagram message or note: it reads as written
/// once drawn, and nothing in it can end the statement, start a comment or a directive, or
/// set an option (see the table in the crate docs).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ';' => out.push_str("#59;"),
            '#' => out.push_str("#35;"),
            '%' => out.push_str("#37;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("<br>");
            }
            '\n' | '\u{2028}' | '\u{2029}' => out.push_str("<br>"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
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

    /// Undoes [`escape`]: Mermaid's reading of a label, as the text it draws.
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
